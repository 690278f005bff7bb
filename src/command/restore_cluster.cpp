#include "command/restore_cluster.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "common/file_io.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/subprocess.hpp"
#include "common/temp_dir.hpp"
#include "common/test_pause.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"
#include "pg/local_server.hpp"
#include "pg/replication.hpp"
#include "physical/recovery_plan.hpp"
#include "physical/tar_extract.hpp"
#include "stream/chunk_fetcher.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::command {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Left in pg_wal (which pg_verifybackup and the server ignore) while a restore is under way, so
// that after a kill -9 a rerun recognises the directory as its own unfinished work.
constexpr char kIncompleteMarker[] = "pg_wal/.dhanbak-restore-incomplete";

// Stops a postmaster left running on `pgdata` by a killed restore-cluster.
void StopOrphanedServer(const std::string& pgdata) {
  auto pidfile = ReadFileIfExists(pgdata + "/postmaster.pid");
  if (!pidfile) return;
  const pid_t pid = static_cast<pid_t>(std::atol(pidfile->c_str()));
  auto cmdline = ReadFileIfExists("/proc/" + std::to_string(pid) + "/cmdline");
  if (pid <= 0 || !cmdline || cmdline->find("postgres") == std::string::npos) return;
  log::Warning("stopping PostgreSQL (pid " + std::to_string(pid) + ") left running on " + pgdata +
               " by an interrupted restore-cluster");
  ::kill(pid, SIGQUIT);
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
}

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

std::string Absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) throw Error(ErrorCode::kInvalidArgument, "invalid path '" + path + "'");
  return p.lexically_normal().string();
}

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

// Restores every archive and the server's backup_manifest into place.
void RestoreFiles(const format::Repository& repo, size_t threads, const format::BaseBackupManifest& base,
                  const std::string& pgdata, const std::map<std::string, std::string>& locations, int64_t& bytes) {
  stream::ChunkFetcher fetcher(repo, threads, threads * 2);
  for (const auto& a : base.archives) {
    const std::string root = a.tablespace_oid.empty() ? pgdata : locations.at(a.tablespace_oid);
    physical::TarExtractor extractor(root, [&](const std::string& name, const std::string& target) {
      // The main directory's pg_tblspc/<oid> links point at the tablespaces' (mapped) directories.
      if (name.starts_with("pg_tblspc/")) {
        auto it = locations.find(name.substr(10));
        if (it != locations.end()) return it->second;
      }
      return target;
    });
    fetcher.Stream(a.data, "archive " + a.name + " of base backup " + base.backup_id,
                   [&](std::string_view data) {
                     ThrowIfInterrupted();
                     extractor.Write(data);
                   });
    extractor.Finish();
    bytes += extractor.bytes();
    log::Info("restored " + a.name + ": " + std::to_string(extractor.files()) + " files, " +
              log::FormatBytes(static_cast<double>(extractor.bytes())));
  }
  fetcher.StreamToFile(base.backup_manifest, "backup_manifest of base backup " + base.backup_id,
                       pgdata + "/backup_manifest");
  physical::SyncTree(pgdata);
  for (const auto& [oid, dir] : locations) physical::SyncTree(dir);
}

void VerifyFiles(const std::string& bin_dir, const std::string& pgdata) {
  SubprocessOptions o;
  std::string output;
  o.argv = {bin_dir + "/pg_verifybackup", "--no-parse-wal", "--quiet", pgdata};
  o.on_stdout = [&](std::string_view s) { output += s; };
  SubprocessResult r = RunSubprocess(o);
  if (r.exit_code != 0) {
    throw Error(ErrorCode::kVerification, "pg_verifybackup found the restored files differ from the base backup's "
                                          "backup_manifest: " + output + r.stderr_tail);
  }
}

// "2024-01-15 09:00:00.123456+00": what recovery_target_time accepts (not the ISO 'T'/'Z' form).
std::string RecoveryTargetTime(UnixMicros t) {
  std::string iso = FormatUtcIso(t);
  return iso.substr(0, 10) + " " + iso.substr(11, iso.size() - 12) + "+00";
}

// restore_command: this dhanbak, with this configuration and repository, as wal-fetch.
std::string RestoreCommand(Context& ctx) {
  std::error_code ec;
  std::string exe = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw Error(ErrorCode::kIo, "cannot find the dhanbak executable: " + ec.message());
  std::string command = pg::ShellQuote(exe) + " -c " + pg::ShellQuote(Absolute(FindConfigPath(ctx.options().config_path)));
  if (ctx.options().repo_url) command += " --repo " + pg::ShellQuote(*ctx.options().repo_url);
  return command + " wal-fetch %f %p";
}

struct ReplayState {
  bool in_recovery = true;
  std::string pause_state;
  std::optional<std::string> last_xact;  // pg_last_xact_replay_timestamp()
  std::string replay_lsn;
  uint32_t timeline = 0;
};

// A connection to the recovering server, as whichever superuser name it has.
std::unique_ptr<pg::PgConnection> TryConnect(const pg::LocalServer& server) {
  std::vector<std::string> users{"postgres"};
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && std::string(pw->pw_name) != "postgres") {
    users.emplace_back(pw->pw_name);
  }
  for (const auto& user : users) {
    try {
      return std::make_unique<pg::PgConnection>(server.Conninfo(user, "template1"), std::nullopt);
    } catch (const Error&) {
      // Not up yet, or no such role: the next name, or the next poll.
    }
  }
  return nullptr;
}

ReplayState QueryReplay(pg::PgConnection& conn) {
  auto rows = conn.Query(
      "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE '' END, "
      "to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
      "coalesce(pg_last_wal_replay_lsn()::text, ''), (SELECT timeline_id FROM pg_control_checkpoint())");
  ReplayState s;
  s.in_recovery = rows.at(0).at(0).value_or("") == "t";
  s.pause_state = rows.at(0).at(1).value_or("");
  s.last_xact = rows.at(0).at(2);
  s.replay_lsn = rows.at(0).at(3).value_or("");
  s.timeline = static_cast<uint32_t>(std::stoul(rows.at(0).at(4).value_or("0")));
  return s;
}

// Polls until the server paused at the target (or, without one, finished recovery and promoted).
ReplayState WaitForTarget(pg::LocalServer& server, std::unique_ptr<pg::PgConnection>& conn, bool has_target,
                          const std::string& last_archived) {
  auto last_note = Clock::now();
  for (;;) {
    ThrowIfInterrupted();
    if (!conn) conn = TryConnect(server);
    if (conn) {
      ReplayState s;
      try {
        s = QueryReplay(*conn);
      } catch (const Error&) {
        conn.reset();  // the server went away: the check below says why
      }
      if (conn && has_target && s.in_recovery && s.pause_state == "paused") return s;
      if (conn && !s.in_recovery) return s;
      if (conn && Clock::now() - last_note > std::chrono::seconds(30)) {
        log::Info("replaying WAL: at " + s.replay_lsn);
        last_note = Clock::now();
      }
    }
    if (!conn && !server.Running()) {
      const std::string log = server.LogTail(12);
      if (log.find("recovery ended before configured recovery target was reached") != std::string::npos) {
        throw Error(ErrorCode::kNotFound, "recovery ended before the target: the archive holds no WAL after " +
                                              last_archived + ", and the target's WAL is in the next segment, not "
                                              "archived (yet). PostgreSQL archives it when the segment fills, after "
                                              "archive_timeout, or on SELECT pg_switch_wal(); or restore to an earlier "
                                              "time, or --at latest. Nothing was kept" + log);
      }
      throw Error(ErrorCode::kPg, "recovery stopped before reaching the target: PostgreSQL said" + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
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

std::string SegmentOf(const std::string& lsn, uint32_t timeline, uint32_t segment_size) {
  if (lsn.empty()) return "";
  uint64_t pos = pg::ParseLsn(lsn);
  return wal::SegmentFileName(timeline, (pos == 0 ? 0 : pos - 1) / segment_size, segment_size);
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
  const std::string pgdata = Absolute(o.pgdata);
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
  const std::string bin_dir = config.pitr.pg_bin_dir.empty()
                                  ? fs::path(FindPgProgram("pg_ctl", base.server_version_num)).parent_path().string()
                                  : config.pitr.pg_bin_dir;
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
  RestoreFiles(repo, threads, base, pgdata, locations, bytes);
  const double files_seconds = SecondsSince(step);
  step = Clock::now();
  VerifyFiles(bin_dir, pgdata);
  const double verify_seconds = SecondsSince(step);

  // The recovery: our settings appended to postgresql.auto.conf (restored to its backed-up
  // content afterwards); socket, archiving and authentication forced on the command line.
  TempDir private_dir;
  const std::string auto_conf = pgdata + "/postgresql.auto.conf";
  const std::string original_auto_conf = ReadFileIfExists(auto_conf).value_or("");
  std::string recovery = original_auto_conf;
  if (!recovery.empty() && recovery.back() != '\n') recovery += '\n';
  recovery += "# dhanbak restore-cluster: recovery settings (removed when recovery ends)\n";
  recovery += "restore_command = " + pg::QuoteLiteral(RestoreCommand(ctx)) + "\n";
  recovery += "recovery_target_timeline = '" + std::to_string(plan.target_timeline) + "'\n";
  if (!at.latest) {
    recovery += "recovery_target_time = " + pg::QuoteLiteral(RecoveryTargetTime(at.at)) + "\n";
    recovery += "recovery_target_action = 'pause'\n";
  }
  WriteFileAtomically(auto_conf, recovery, 0600, true);
  WriteFileAtomically(pgdata + "/recovery.signal", "", 0600, true);
  WriteFileAtomically(private_dir.path() + "/pg_hba.conf", "local all all trust\n", 0600, false);
  const bool own_conf = !fs::exists(pgdata + "/postgresql.conf");

  pg::LocalServerOptions so;
  so.pgdata = pgdata;
  so.bin_dir = bin_dir;
  so.socket_dir = private_dir.path();
  so.log_file = private_dir.path() + "/recovery.log";
  so.settings = {{"archive_mode", "off"}, {"hot_standby", "on"}, {"hba_file", private_dir.path() + "/pg_hba.conf"},
                 {"logging_collector", "off"}, {"log_destination", "stderr"}};
  if (own_conf) {
    // The server's configuration lives elsewhere (Debian: /etc/postgresql): replay with defaults.
    WriteFileAtomically(private_dir.path() + "/postgresql.conf", "", 0600, false);
    so.settings.emplace_back("config_file", private_dir.path() + "/postgresql.conf");
  }
  step = Clock::now();
  pg::LocalServer server(so);
  server.Start();
  std::unique_ptr<pg::PgConnection> conn;
  ReplayState reached = WaitForTarget(server, conn, !at.latest, plan.last_segment);
  const double replay_seconds = SecondsSince(step);
  TestPausePoint("restore-cluster-reached");
  if (!at.latest && reached.last_xact && ParseUtcIso(*reached.last_xact) > at.at) {
    throw Error(ErrorCode::kVerification, "recovery stopped at a transaction of " + *reached.last_xact +
                                              ", after the target " + FormatUtcIso(at.at));
  }
  const std::string replayed_to = SegmentOf(reached.replay_lsn, reached.timeline, base.segment_size);

  step = Clock::now();
  if (reached.in_recovery) conn->Exec("SELECT pg_promote(true, 600)");
  for (int i = 0; QueryReplay(*conn).in_recovery; ++i) {
    if (i > 6000) throw Error(ErrorCode::kPg, "the restored cluster did not finish promotion" + server.LogTail());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  conn->Exec("CHECKPOINT");
  const uint32_t new_timeline = QueryReplay(*conn).timeline;
  std::string amcheck_report;
  if (o.amcheck) {
    SubprocessOptions a;
    a.argv = {bin_dir + "/pg_amcheck", "--all", "--install-missing", "--heapallindexed", "--no-strict-names",
              "-h", so.socket_dir, "-p", std::to_string(so.port), "-U", conn->QueryValue("SELECT current_user")};
    a.on_stdout = [&](std::string_view s) { amcheck_report += s; };
    SubprocessResult r = RunSubprocess(a);
    if (r.exit_code != 0) {
      throw Error(ErrorCode::kVerification, "pg_amcheck found problems in the restored cluster: " + amcheck_report +
                                                r.stderr_tail);
    }
  }
  conn.reset();
  server.Stop("fast");
  // Back to the cluster's own settings; the new timeline's history file goes to the archive
  // once the cluster runs with them.
  WriteFileAtomically(auto_conf, original_auto_conf, 0600, true);
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
