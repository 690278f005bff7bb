// Good backups the catalog knows whose manifest the repository no longer lists. Prune only ever
// deletes what retention expires, so a missing backup that retention expires was pruned — maybe
// by another host, with its own catalog — and is forgotten; one that retention keeps is lost
// (deleted or hidden by something else), and it must neither be forgotten nor have its chunks
// swept.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "retention/policy.hpp"

namespace dhanbak::command {

struct MissingBackups {
  std::vector<std::string> pruned;  // expired by retention: removed from the catalog (if `forget`)
  std::vector<std::string> lost;    // kept by retention
};

// `present`: the backups whose manifests the repository lists (with their databases and times).
MissingBackups SortOutMissing(Context& ctx, const std::vector<retention::BackupRef>& present, bool forget);

}  // namespace dhanbak::command
