#include "command/restore_cluster.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "common/elapsed.hpp"
#include "common/file_io.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/subprocess.hpp"
#include "common/temp_dir.hpp"
#include "common/test_pause.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"
#include "command/recovery_server.hpp"
#include "physical/recovery_plan.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::command {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;


// Left in pg_wal (which pg_verifybackup and the server ignore) while a restore is under way, so
// that after a kill -9 a rerun recognises the directory as its own unfinished work.
constexpr char kIncompleteMarker[] = "pg_wal/.dhanbak-restore-incomplete";

// The directories restore-cluster fills. Until Keep(), destruction removes what was written:
// the directories it created, and the contents of those that were empty.
class TargetDirs {
 public:
  ~TargetDirs() {
    if (kept_) return;
    for (const auto& [dir, created] : dirs_) {
      std::error_code ec;
      if (created) {
        fs::remove_all(dir, ec);
      } else {
        ClearContents(dir);
      }
    }
  }
  // `dir` must be absent or an empty directory; it is created 0700 when absent. The data
  // directory of a restore-cluster that was killed (and its tablespace directories) is cleared.
  void Claim(const std::string& dir, const std::string& what, bool is_pgdata) {
    std::error_code ec;
    if (fs::exists(dir, ec)) {
      if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::kInvalidArgument, what + " " + dir + " is not a directory");
      if (is_pgdata && fs::exists(dir + "/" + kIncompleteMarker, ec)) {
        log::Warning("removing what an interrupted restore-cluster left in " + dir);
        StopOrphanedServer(dir);
        reclaimed_ = true;
        ClearContents(dir);
      } else if (reclaimed_ && !is_pgdata) {
        ClearContents(dir);
      }
      if (!fs::is_empty(dir, ec)) {
        throw Error(ErrorCode::kInvalidArgument, what + " " + dir + " is not empty: restore-cluster writes only into an "
                                                 "empty or absent directory, and never over a cluster");
      }
      if (ec) throw Error(ErrorCode::kIo, "cannot read " + dir + ": " + ec.message());
      dirs_.emplace_back(dir, false);
      ::chmod(dir.c_str(), 0700);
    } else {
      fs::create_directories(dir, ec);
      if (ec) throw Error(ErrorCode::kIo, "cannot create " + what + " " + dir + ": " + ec.message());
      ::chmod(dir.c_str(), 0700);
      dirs_.emplace_back(dir, true);
    }
    if (is_pgdata) {
      fs::create_directories(dir + "/pg_wal", ec);
      WriteFileAtomically(dir + "/" + kIncompleteMarker, "", 0600, true);
    }
  }
  // Success: everything stays, and the directory is no longer marked as work in progress.
  void Keep(const std::string& pgdata) {
    kept_ = true;
    std::error_code ec;
    fs::remove(pgdata + "/" + kIncompleteMarker, ec);
  }

 private:
  static void ClearContents(const std::string& dir) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
  }
  bool reclaimed_ = false;
  std::vector<std::pair<std::string, bool>> dirs_;
  bool kept_ = false;
};


// OLD=NEW mappings against the base backup's tablespaces: tablespace oid → directory to restore to.
std::map<std::string, std::string> TablespaceLocations(const format::BaseBackupManifest& base,
                                                       const std::vector<std::string>& mappings) {
  std::map<std::string, std::string> by_old;
  for (const auto& m : mappings) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size() || m[0] != '/' || m[eq + 1] != '/') {
      throw Error(ErrorCode::kInvalidArgument, "--tablespace-map '" + m + "': expected OLD=NEW with absolute paths");
    }
    by_old[fs::path(m.substr(0, eq)).lexically_normal().string()] = fs::path(m.substr(eq + 1)).lexically_normal().string();
  }
  std::map<std::string, std::string> locations;
  std::string known;
  for (const auto& a : base.archives) {
    if (a.tablespace_oid.empty()) continue;
    known += (known.empty() ? "" : ", ") + a.location;
    auto it = by_old.find(fs::path(a.location).lexically_normal().string());
    locations[a.tablespace_oid] = it == by_old.end() ? a.location : it->second;
    if (it != by_old.end()) by_old.erase(it);
  }
  if (!by_old.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "--tablespace-map names " + by_old.begin()->first +
                                                 ", which is not a tablespace of base backup " + base.backup_id +
                                                 (known.empty() ? " (it has none)" : " (its tablespaces: " + known + ")"));
  }
  return locations;
}

std::string TimelineHistoryName(uint32_t timeline) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X.history", timeline);
  return buf;
}

// Recovery ran with archiving off, so the new timeline's history file was not marked for the
// archiver; once the cluster runs with its own archive settings it must be archived (later
// restores follow the timeline through it). PostgreSQL would have created exactly this file.
void MarkHistoryForArchiving(const std::string& pgdata, uint32_t timeline) {
  if (timeline <= 1) return;
  const std::string name = TimelineHistoryName(timeline);
  std::error_code ec;
  if (!fs::exists(pgdata + "/pg_wal/" + name, ec)) return;
  const std::string status = pgdata + "/pg_wal/archive_status/" + name;
  if (fs::exists(status + ".done", ec) || fs::exists(status + ".ready", ec)) return;
  WriteFileAtomically(status + ".ready", "", 0600, true);
}

}  // namespace

int RunRestoreCluster(Context& ctx, const RestoreClusterOptions& o) {
  if (::geteuid() == 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "restore-cluster runs PostgreSQL, which refuses to run as root: run it as the user the cluster will "
                "run as (e.g. sudo -u postgres dhanbak restore-cluster ...)");
  }
  if (o.pgdata.empty()) throw Error(ErrorCode::kInvalidArgument, "restore-cluster needs --pgdata DIR");
  const TimeSpec at = ParseTimeSpec(o.at.empty() ? "latest" : o.at, NowMicros());
  const Config& config = ctx.config();
  const std::string pgdata = AbsolutePath(o.pgdata);
  auto locks = ctx.Lock(LockMode::kShared);
  format::Repository& repo = ctx.repository();
  const size_t threads = static_cast<size_t>(std::max(2, config.b2.connections));

  const auto started = Clock::now();
  const UnixMicros started_at = NowMicros();
  physical::RecoveryPlan plan = [&] {
    try {
      return physical::PlanClusterRecovery(repo, at);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInterrupted) throw;
      throw Error(e.code(), std::string(e.what()) + "; nothing was written");
    }
  }();
  const auto& base = plan.base;
  const std::map<std::string, std::string> locations = TablespaceLocations(base, o.tablespace_map);
  const std::string bin_dir = ReplayBinDir(config, base.server_version_num);
  log::Info("restoring base backup " + base.backup_id + " (ended " + FormatLocalTime(base.stopped_at) + ", PostgreSQL " +
            base.server_version + "), then WAL " + plan.first_segment + " to " +
            (at.latest ? "the end of the archive (" + plan.last_segment + ")" : "about " + plan.last_segment) +
            " on timeline " + std::to_string(plan.target_timeline));
  const double plan_seconds = SecondsSince(started);

  TargetDirs dirs;
  dirs.Claim(pgdata, "--pgdata", true);
  for (const auto& [oid, dir] : locations) dirs.Claim(dir, "tablespace directory", false);
  TestPausePoint("restore-cluster-claimed");

  auto step = Clock::now();
  int64_t bytes = 0;
  RestoreBaseBackupFiles(repo, threads, base, pgdata, locations, bytes);
  const double files_seconds = SecondsSince(step);
  step = Clock::now();
  VerifyRestoredFiles(bin_dir, pgdata);
  const double verify_seconds = SecondsSince(step);

  // The recovery, on a private socket with archiving off, paused at TIME.
  TempDir private_dir;
  step = Clock::now();
  RecoveryServer recovery(ctx, pgdata, bin_dir, plan, at, private_dir.path());
  ReplayState reached = recovery.ReplayToTarget();
  const double replay_seconds = SecondsSince(step);
  TestPausePoint("restore-cluster-reached");
  pg::PgConnection* conn = &recovery.connection();
  const std::string replayed_to = SegmentOfLsn(reached.replay_lsn, reached.timeline, base.segment_size);

  step = Clock::now();
  recovery.Promote();
  conn->Exec("CHECKPOINT");
  const uint32_t new_timeline = recovery.Query().timeline;
  if (o.amcheck) recovery.Amcheck();
  recovery.server().Stop("fast");
  // Back to the cluster's own settings; the new timeline's history file goes to the archive
  // once the cluster runs with them.
  recovery.RestoreAutoConf();
  MarkHistoryForArchiving(pgdata, new_timeline);
  physical::SyncTree(pgdata);
  const double promote_seconds = SecondsSince(step);
  dirs.Keep(pgdata);

  catalog::RestoreRecord rec;
  rec.backup_id = base.backup_id;
  rec.database = "(cluster)";
  rec.target = pgdata;
  rec.status = "ok";
  rec.detail = "to " + (at.latest ? std::string("latest") : FormatUtcIso(at.at)) + ", timeline " +
               std::to_string(new_timeline);
  rec.started_at = started_at;
  rec.finished_at = NowMicros();
  ctx.catalog().RecordRestore(rec);

  const std::string last_xact = reached.last_xact ? FormatLocalTime(ParseUtcIso(*reached.last_xact))
                                                  : std::string("none replayed after the base backup");
  if (ctx.options().json) {
    nlohmann::json j{{"base_backup", base.backup_id},
                     {"base_backup_stopped_at", FormatUtcIso(base.stopped_at)},
                     {"target", at.latest ? std::string("latest") : FormatUtcIso(at.at)},
                     {"pgdata", pgdata},
                     {"first_segment", plan.first_segment},
                     {"last_segment_replayed", replayed_to},
                     {"last_transaction", reached.last_xact ? nlohmann::json(*reached.last_xact) : nlohmann::json()},
                     {"timeline", new_timeline},
                     {"bytes", bytes},
                     {"seconds", {{"plan", plan_seconds}, {"files", files_seconds}, {"verify", verify_seconds},
                                  {"replay", replay_seconds}, {"promote", promote_seconds}}}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "restored the cluster into " << pgdata << "\n"
              << "  base backup:      " << base.backup_id << " (ended " << FormatLocalTime(base.stopped_at) << ")\n"
              << "  WAL replayed:     " << plan.first_segment << " to " << replayed_to << "\n"
              << "  last transaction: " << last_xact << "\n"
              << "  new timeline:     " << new_timeline << "\n"
              << "  took:             plan " << static_cast<int>(plan_seconds + 0.5) << " s, files "
              << static_cast<int>(files_seconds + 0.5) << " s (" << log::FormatBytes(static_cast<double>(bytes))
              << "), verify " << static_cast<int>(verify_seconds + 0.5) << " s, replay "
              << static_cast<int>(replay_seconds + 0.5) << " s, promote and shut down "
              << static_cast<int>(promote_seconds + 0.5) << " s\n"
              << "start it with: pg_ctl start -D " << pgdata << "\n";
  }
  return 0;
}

}  // namespace dhanbak::command
