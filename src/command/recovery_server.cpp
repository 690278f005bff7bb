#include "command/recovery_server.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "common/file_io.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/subprocess.hpp"
#include "dhanbak/error.hpp"
#include "pg/replication.hpp"
#include "physical/tar_extract.hpp"
#include "stream/chunk_fetcher.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::command {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;


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
  std::string command =
      pg::ShellQuote(exe) + " -c " + pg::ShellQuote(AbsolutePath(FindConfigPath(ctx.options().config_path)));
  if (ctx.options().repo_url) command += " --repo " + pg::ShellQuote(*ctx.options().repo_url);
  return command + " wal-fetch %f %p";
}

// A hot standby refuses to run with lower limits than the primary had (pg_control records
// them at every checkpoint): the replay gets at least those, whatever its configuration says.
std::vector<std::pair<std::string, std::string>> HotStandbyLimits(const std::string& bin_dir,
                                                                  const std::string& pgdata) {
  SubprocessOptions o;
  std::string output;
  o.argv = {bin_dir + "/pg_controldata", pgdata};
  o.on_stdout = [&](std::string_view s) { output += s; };
  o.env = {{"LC_ALL", "C"}};
  SubprocessResult r = RunSubprocess(o);
  if (r.exit_code != 0) throw Error(ErrorCode::kPg, "pg_controldata failed on the restored files: " + r.stderr_tail);
  const std::pair<const char*, const char*> wanted[] = {{"max_connections setting:", "max_connections"},
                                                        {"max_worker_processes setting:", "max_worker_processes"},
                                                        {"max_wal_senders setting:", "max_wal_senders"},
                                                        {"max_prepared_xacts setting:", "max_prepared_transactions"},
                                                        {"max_locks_per_xact setting:", "max_locks_per_transaction"}};
  std::vector<std::pair<std::string, std::string>> settings;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    for (const auto& [label, name] : wanted) {
      if (!line.starts_with(label)) continue;
      std::string value = line.substr(std::string(label).size());
      value.erase(0, value.find_first_not_of(' '));
      if (!value.empty()) settings.emplace_back(name, value);
    }
  }
  return settings;
}

}  // namespace

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) throw Error(ErrorCode::kInvalidArgument, "invalid path '" + path + "'");
  return p.lexically_normal().string();
}

std::string ReplayBinDir(const Config& config, int server_version_num) {
  if (!config.pitr.pg_bin_dir.empty()) return config.pitr.pg_bin_dir;
  return fs::path(FindPgProgram("pg_ctl", server_version_num)).parent_path().string();
}

void RestoreBaseBackupFiles(const format::Repository& repo, size_t threads, const format::BaseBackupManifest& base,
                            const std::string& pgdata, const std::map<std::string, std::string>& locations,
                            int64_t& bytes) {
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
    fetcher.Stream(a.data, "archive " + a.name + " of base backup " + base.backup_id, [&](std::string_view data) {
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

void VerifyRestoredFiles(const std::string& bin_dir, const std::string& pgdata) {
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

void StopOrphanedServer(const std::string& pgdata) {
  auto pidfile = ReadFileIfExists(pgdata + "/postmaster.pid");
  if (!pidfile) return;
  const pid_t pid = static_cast<pid_t>(std::atol(pidfile->c_str()));
  auto cmdline = ReadFileIfExists("/proc/" + std::to_string(pid) + "/cmdline");
  if (pid <= 0 || !cmdline || cmdline->find("postgres") == std::string::npos) return;
  log::Warning("stopping PostgreSQL (pid " + std::to_string(pid) + ") left running on " + pgdata +
               " by an interrupted dhanbak run");
  ::kill(pid, SIGQUIT);
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
}

std::string SegmentOfLsn(const std::string& lsn, uint32_t timeline, uint32_t segment_size) {
  if (lsn.empty()) return "";
  uint64_t pos = pg::ParseLsn(lsn);
  return wal::SegmentFileName(timeline, (pos == 0 ? 0 : pos - 1) / segment_size, segment_size);
}

RecoveryServer::RecoveryServer(Context& ctx, const std::string& pgdata, const std::string& bin_dir,
                               const physical::RecoveryPlan& plan, const TimeSpec& at, const std::string& private_dir)
    : ctx_(ctx), pgdata_(pgdata), bin_dir_(bin_dir), private_dir_(private_dir), plan_(plan), at_(at) {}

void RecoveryServer::Configure() {
  const std::string auto_conf = pgdata_ + "/postgresql.auto.conf";
  original_auto_conf_ = ReadFileIfExists(auto_conf).value_or("");
  std::string recovery = original_auto_conf_;
  if (!recovery.empty() && recovery.back() != '\n') recovery += '\n';
  recovery += "# dhanbak: recovery settings (removed when recovery ends)\n";
  recovery += "restore_command = " + pg::QuoteLiteral(RestoreCommand(ctx_)) + "\n";
  recovery += "recovery_target_timeline = '" + std::to_string(plan_.target_timeline) + "'\n";
  if (!at_.latest) {
    recovery += "recovery_target_time = " + pg::QuoteLiteral(RecoveryTargetTime(at_.at)) + "\n";
    recovery += "recovery_target_action = 'pause'\n";
  }
  WriteFileAtomically(auto_conf, recovery, 0600, true);
  WriteFileAtomically(pgdata_ + "/recovery.signal", "", 0600, true);
  WriteFileAtomically(private_dir_ + "/pg_hba.conf", "local all all trust\n", 0600, false);

  pg::LocalServerOptions so;
  so.pgdata = pgdata_;
  so.bin_dir = bin_dir_;
  so.socket_dir = private_dir_;
  so.log_file = private_dir_ + "/recovery.log";
  // Over the cluster's own postgresql.conf, which the base backup may carry: a replay beside the
  // production server must not take its memory (shared_buffers), fail on its huge pages or on
  // certificate files only the server's OS user may read, or archive into its repository.
  so.settings = {{"archive_mode", "off"}, {"hot_standby", "on"}, {"hba_file", private_dir_ + "/pg_hba.conf"},
                 {"logging_collector", "off"}, {"log_destination", "stderr"}, {"ssl", "off"},
                 {"shared_buffers", "256MB"}, {"huge_pages", "try"}};
  for (auto& setting : HotStandbyLimits(bin_dir_, pgdata_)) so.settings.push_back(std::move(setting));
  if (!fs::exists(pgdata_ + "/postgresql.conf")) {
    // The server's configuration lives elsewhere (Debian: /etc/postgresql): replay with defaults.
    WriteFileAtomically(private_dir_ + "/postgresql.conf", "", 0600, false);
    so.settings.emplace_back("config_file", private_dir_ + "/postgresql.conf");
  }
  server_ = std::make_unique<pg::LocalServer>(so);
}

void RecoveryServer::RestoreAutoConf() {
  WriteFileAtomically(pgdata_ + "/postgresql.auto.conf", original_auto_conf_, 0600, true);
}

std::unique_ptr<pg::PgConnection> RecoveryServer::TryConnect() {
  std::vector<std::string> users{"postgres"};
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && std::string(pw->pw_name) != "postgres") {
    users.emplace_back(pw->pw_name);
  }
  for (const auto& user : users) {
    try {
      auto conn = std::make_unique<pg::PgConnection>(server_->Conninfo(user, "template1"), std::nullopt);
      user_ = user;
      return conn;
    } catch (const Error&) {
      // Not up yet, or no such role: the next name, or the next poll.
    }
  }
  return nullptr;
}

void RecoveryServer::Promote() {
  if (!Query().in_recovery) return;
  conn_->Exec("SELECT pg_promote(true, 600)");
  for (int i = 0; Query().in_recovery; ++i) {
    if (i > 6000) throw Error(ErrorCode::kPg, "the replayed cluster did not finish promotion" + server_->LogTail());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void RecoveryServer::Amcheck() {
  SubprocessOptions a;
  std::string report;
  a.argv = {bin_dir_ + "/pg_amcheck", "--all", "--install-missing", "--heapallindexed", "--no-strict-names",
            "-h", private_dir_, "-p", std::to_string(server_->options().port), "-U", user_};
  a.on_stdout = [&](std::string_view s) { report += s; };
  SubprocessResult r = RunSubprocess(a);
  if (r.exit_code != 0) {
    throw Error(ErrorCode::kVerification, "pg_amcheck found problems in the restored cluster: " + report + r.stderr_tail);
  }
}

std::string RecoveryServer::Conninfo(const std::string& dbname) const { return server_->Conninfo(user_, dbname); }

ReplayState RecoveryServer::Query() {
  auto rows = conn_->Query(
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

// A pause that is not the target: the WAL raised a hot-standby limit (the primary's
// max_connections, ...) past what the replay runs with. PostgreSQL names the setting and the
// primary's value; the replay restarts with it (and continues from its last restartpoint).
// Also when it stopped for that reason before it accepted connections. Returns false when the
// pause or stop has another reason (the target).
bool RecoveryServer::RaiseLimitIfStuck() {
  const std::string log = server_->LogTail(40);
  if (log.find("insufficient parameter settings") == std::string::npos) return false;
  static const std::regex lower(R"((\w+) = (\d+) is a lower setting than on the primary server, where its value was (\d+))");
  std::smatch m;
  if (++restarts_ > 8 || !std::regex_search(log, m, lower)) {
    throw Error(ErrorCode::kPg, "the replay paused before the target: the WAL raised a server limit "
                                "(max_connections, max_locks_per_transaction, ...) above what the replay can run "
                                "with; PostgreSQL said" + server_->LogTail(12));
  }
  const std::string name = m[1].str(), value = m[3].str();
  log::Info("the WAL raised " + name + " to " + value + " on the primary: restarting the replay with it");
  pg::LocalServerOptions so = server_->options();
  std::erase_if(so.settings, [&](const auto& kv) { return kv.first == name; });
  so.settings.emplace_back(name, value);
  so.log_file = private_dir_ + "/recovery-" + std::to_string(restarts_) + ".log";
  conn_.reset();
  if (server_->Running()) server_->Stop("fast", 300);
  server_ = std::make_unique<pg::LocalServer>(so);
  server_->Start();
  return true;
}

ReplayState RecoveryServer::ReplayToTarget() {
  Configure();
  server_->Start();
  auto last_note = Clock::now();
  ReplayState reached;
  for (;;) {
    ThrowIfInterrupted();
    if (!conn_) conn_ = TryConnect();
    if (conn_) {
      ReplayState s;
      try {
        s = Query();
      } catch (const Error&) {
        conn_.reset();  // the server went away: the check below says why
      }
      if (conn_ && s.in_recovery && s.pause_state == "paused") {
        if (RaiseLimitIfStuck()) continue;
        if (!at_.latest) {
          reached = s;
          break;
        }
      }
      if (conn_ && !s.in_recovery) {
        reached = s;
        break;
      }
      if (conn_ && Clock::now() - last_note > std::chrono::seconds(30)) {
        log::Info("replaying WAL: at " + s.replay_lsn);
        last_note = Clock::now();
      }
    }
    if (!conn_ && !server_->Running()) {
      if (RaiseLimitIfStuck()) continue;
      const std::string log = server_->LogTail(12);
      if (log.find("recovery ended before configured recovery target was reached") != std::string::npos) {
        throw Error(ErrorCode::kNotFound, "recovery ended before the target: the archive holds no WAL after " +
                                              plan_.last_segment + ", and the target's WAL is in the next segment, "
                                              "not archived (yet). PostgreSQL archives it when the segment fills, "
                                              "after archive_timeout, or on SELECT pg_switch_wal(); or restore to an "
                                              "earlier time, or --at latest. Nothing was kept" + log);
      }
      throw Error(ErrorCode::kPg, "recovery stopped before reaching the target: PostgreSQL said" + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (!at_.latest && reached.last_xact && ParseUtcIso(*reached.last_xact) > at_.at) {
    throw Error(ErrorCode::kVerification, "recovery stopped at a transaction of " + *reached.last_xact +
                                              ", after the target " + FormatUtcIso(at_.at));
  }
  return reached;
}

}  // namespace dhanbak::command
