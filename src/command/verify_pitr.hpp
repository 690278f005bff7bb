// `dhanbak verify --pitr [DB ...]` (weekly from cron): proves the WAL archive the way an
// incident would use it.
//   - The chain: the newest base backup replayed to the end of the archive in a scratch server,
//     then pg_amcheck --heapallindexed over every database (recorded as database "(cluster)").
//   - Each database at one random point of the last week's restorable window: replayed once,
//     each database copied out and restored into a scratch database on [verify] conninfo (else
//     the [postgres] server), every table compared with the hashes taken while copying out,
//     then dropped.
// Each result goes to the catalog with the time the whole restore took (its RTO); `status`
// shows the last one per database and alerts when it failed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command/context.hpp"

namespace dhanbak::command {

struct VerifyPitrOptions {
  std::vector<std::string> databases;  // empty: every configured database
  std::optional<int> jobs;
  std::optional<std::string> at;       // a fixed point instead of a random one (tests, reruns)
};

// 0 all proven, 3 a difference or corruption, otherwise the first error's code.
int RunVerifyPitr(Context& ctx, const VerifyPitrOptions& options);

}  // namespace dhanbak::command
