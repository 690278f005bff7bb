// `dhanbak restore-cluster --at TIME --pgdata DIR [--tablespace-map OLD=NEW ...] [--amcheck]`:
// the whole cluster as it was at TIME, for a bare server (design §4). Picks the newest base
// backup that ended at or before TIME and checks that the archived WAL reaches TIME unbroken
// before writing anything; restores the files and checks them against the server's own
// backup_manifest (pg_verifybackup); replays the WAL on a private socket with archiving off
// (a restored copy never pushes into the production archive) until it pauses at TIME; checks the
// point reached; promotes; checkpoints; shuts down cleanly. `pg_ctl start -D DIR` then brings
// the cluster up. On any failure what it wrote is removed: a half-restored cluster is never left.
#pragma once

#include <string>
#include <vector>

#include "command/context.hpp"

namespace dhanbak::command {

struct RestoreClusterOptions {
  std::string at;  // TIME or "latest"
  std::string pgdata;
  std::vector<std::string> tablespace_map;  // OLD=NEW
  bool amcheck = false;
};

int RunRestoreCluster(Context& ctx, const RestoreClusterOptions& options);

}  // namespace dhanbak::command
