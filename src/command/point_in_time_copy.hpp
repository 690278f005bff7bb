// PointInTimeCopy — one database as it was at TIME, taken from the WAL archive (design §4):
//   1. the base backup's files restored into a ScratchArea under [pitr] scratch_dir (free space
//      checked first; every tablespace mapped into the scratch area, never onto the live
//      cluster's directories) and checked with pg_verifybackup;
//   2. a scratch server replays the archive on a private socket, archiving off, until it is
//      paused at TIME (RecoveryServer), then is promoted there (transactions in flight at TIME
//      rolled back, their locks released; nothing is archived);
//   3. the logical engine backs the database up from the scratch server (exported snapshot,
//      parallel COPY, table hashes, pg_dump schema, database properties) into a repository of
//      its own inside the scratch area (its key random, its catalog there too);
//   4. the scratch server is stopped; the caller restores `manifest()` from `chunks()` into the
//      live cluster with the restore engine, which verifies every table against those hashes.
// Destruction stops the server and removes the scratch area, on every path that unwinds.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "command/context.hpp"
#include "command/recovery_server.hpp"
#include "command/scratch_area.hpp"
#include "dhanbak/format/manifest.hpp"
#include "physical/recovery_plan.hpp"

namespace dhanbak::command {

class PointInTimeCopy {
 public:
  PointInTimeCopy(Context& ctx, physical::RecoveryPlan plan, TimeSpec at);
  ~PointInTimeCopy();

  // Steps 1 to 3 for `database` (the server stopped after); `globals` also copies the roles out.
  void Run(const std::string& database, int jobs, bool globals);

  // Or step by step: steps 1 and 2 (the scratch server then runs, promoted at TIME) ...
  void Prepare();
  // ... step 3 for each database wanted (its manifest in chunks()) ...
  format::Manifest CopyOut(const std::string& database, int jobs, bool globals);
  // ... pg_amcheck of the whole replayed cluster ...
  void Amcheck() { recovery_->Amcheck(); }
  // ... and the server stopped.
  void StopServer();

  Context& chunks() { return *copy_ctx_; }
  const format::Manifest& manifest() const { return manifest_; }
  const ReplayState& reached() const { return reached_; }
  // Wall-clock seconds of each step, in order.
  const std::vector<std::pair<std::string, double>>& phases() const { return phases_; }

 private:
  void OpenCopyRepository(int jobs);

  Context& ctx_;
  physical::RecoveryPlan plan_;
  TimeSpec at_;
  std::unique_ptr<ScratchArea> scratch_;
  std::unique_ptr<TempDir> socket_dir_;
  std::unique_ptr<RecoveryServer> recovery_;
  std::unique_ptr<Context> copy_ctx_;
  format::Manifest manifest_;
  ReplayState reached_;
  std::vector<std::pair<std::string, double>> phases_;
};

}  // namespace dhanbak::command
