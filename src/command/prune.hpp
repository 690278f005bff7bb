// `dhanbak prune [--dry-run]`: applies the retention policy (src/retention/policy.hpp).
// Expired manifests are deleted first — from then on those backups no longer exist — then every
// chunk that no remaining manifest references (mark and sweep). Chunks stored within the grace
// period are spared, and prune refuses to run while any backup holds a repository lock, so a
// backup running at the same time is never robbed. Objects still under B2 Object Lock are
// skipped and reported.
#pragma once

#include "command/context.hpp"

namespace dhanbak::command {

struct PruneOptions {
  bool dry_run = false;
  // Every backup of this database goes, whatever the retention rules say (a retired service).
  std::string forget_database;
};

int RunPrune(Context& ctx, const PruneOptions& options);

}  // namespace dhanbak::command
