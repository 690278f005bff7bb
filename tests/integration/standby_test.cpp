// Backups taken on a hot standby (issue 11, "Back up from a replica"): against a streaming
// replica the harness starts, a backup records the standby's replay position and lag in its
// manifest and restores into the primary identically; a recovery conflict that cancels the
// backup's snapshot is retried with a new snapshot, and when every attempt is cancelled the
// error names the standby settings that end it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "format/repository.hpp"
#include "storage/local/local_storage.hpp"
#include "support/dhanbak_env.hpp"
#include "support/paused_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/pitr_fixture.hpp"
#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace standby_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;
using namespace dhanbak::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kDb = "standby_db";
constexpr const char* kPassphrase = "integration test passphrase";
constexpr const char* kContents = "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM t";

// Points the [postgres] conninfo of the configuration at `config_path` at `server`.
void UseServer(const std::string& config_path, const PgCluster& server) {
  std::ifstream in(config_path);
  std::string toml((std::istreambuf_iterator<char>(in)), {});
  toml = std::regex_replace(toml, std::regex("conninfo = \"[^\"]*\""),
                            "conninfo = \"host=127.0.0.1 port=" + std::to_string(server.port()) + " user=postgres\"");
  std::ofstream(config_path, std::ios::trunc) << toml;
}
void UseServer(const DhanbakEnv& env, const PgCluster& server) { UseServer(env.config_path(), server); }

// Waits until the standby has replayed everything the primary wrote so far.
// The insert position, not pg_current_wal_lsn() (the write position): the test clusters commit
// with synchronous_commit off, so the last commit may still sit in WAL buffers beyond the latter.
void WaitForReplay(const PgCluster& primary, const PgCluster& standby) {
  const std::string lsn = primary.Psql("postgres", "SELECT pg_current_wal_insert_lsn()");
  WaitForSql(standby, "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn", "t", 60s);
}

dhanbak::format::Manifest ReadManifest(const DhanbakEnv& env, const std::string& backup_id) {
  dhanbak::storage::LocalStorage storage(env.repo_dir());
  return dhanbak::format::Repository::Open(storage, kPassphrase)->GetManifest(backup_id);
}

// A backup run that stops at pause point `point` (at every pass when `every_pass`).
class PausedBackup {
 public:
  PausedBackup(const DhanbakEnv& env, const std::string& point, bool every_pass)
      : dir_(env.dir() + "/pause"), point_(point) {
    fs::create_directories(dir_);
    if (every_pass) std::ofstream(dir_ + "/" + point + ".again") << "\n";
    ProcessOptions o = env.Options();
    o.env.push_back({"DHANBAK_TEST_PAUSE", point});
    o.env.push_back({"DHANBAK_TEST_PAUSE_DIR", dir_});
    process_ = std::make_unique<BackgroundProcess>(env.Argv({"backup"}), o);
  }
  bool WaitReached() { return WaitForPausePoint(dir_, point_, *process_, 120s); }
  // Lets the run go on; with every_pass, returns once it has left the pause point.
  void Continue() {
    ContinueFromPausePoint(dir_, point_);
    if (!fs::exists(dir_ + "/" + point_ + ".again")) return;
    while (fs::exists(dir_ + "/" + point_ + ".continue") && process_->Running()) std::this_thread::sleep_for(20ms);
  }
  ProcessResult Finish() { return process_->Wait(std::chrono::minutes(3)); }

 private:
  std::string dir_, point_;
  std::unique_ptr<BackgroundProcess> process_;
};

// On the primary: rows the paused backup's snapshot still sees become dead and VACUUM removes
// them; replaying that on the standby conflicts with the snapshot.
void RemoveRowsUnderTheSnapshot(const PgCluster& primary, const PgCluster& standby, int round) {
  primary.Psql(kDb, "DELETE FROM t WHERE id % 10 = " + std::to_string(round % 10));
  primary.Psql(kDb, "VACUUM t");
  WaitForReplay(primary, standby);
}

// A primary holding kDb (autovacuum off: rows die only when a test says), its hot standby with
// `standby_conf`, and an env that backs up from the standby.
struct StandbyPair {
  PgCluster primary;
  std::unique_ptr<PgCluster> standby;
  DhanbakEnv env{{kDb}};
  explicit StandbyPair(const std::string& standby_conf) {
    primary.Psql("postgres", "ALTER SYSTEM SET autovacuum = off");
    primary.Psql("postgres", "SELECT pg_reload_conf()");
    SmallDatabase(primary, kDb);
    standby = std::make_unique<PgCluster>(PgCluster::StandbyOf{primary, standby_conf});
    WaitForReplay(primary, *standby);
    env.InitFast();
    UseServer(env, *standby);
  }
};

}  // namespace

TEST_CASE("standby: a backup from a hot standby records its replay lag and restores into the primary") {
  StandbyPair pair("");
  PgCluster& primary = pair.primary;
  PgCluster& standby = *pair.standby;
  DhanbakEnv& env = pair.env;

  // Caught up: no lag, the standby's own clock is the backup's time.
  ProcessResult current = env.RunOk({"backup"});
  CHECK(current.err.find("from a hot standby") != std::string::npos);
  const auto caught_up = ReadManifest(env, LoggedBackupId(current.err, kDb));
  REQUIRE(caught_up.standby.has_value());
  CHECK(caught_up.standby->replay_lag_seconds == 0);
  CHECK_FALSE(caught_up.standby->replay_lsn.empty());

  // Replay paused, then rows written on the primary: the standby lags, and the backup holds
  // the data of its last replayed commit and claims that commit's time, not the standby's now.
  const std::string before_pause = primary.Psql(kDb, kContents);
  primary.Psql(kDb, "INSERT INTO t VALUES (1000)");  // the last commit the standby replays
  WaitForReplay(primary, standby);
  standby.Psql("postgres", "SELECT pg_wal_replay_pause()");
  WaitForSql(standby, "SELECT pg_get_wal_replay_pause_state()", "paused", 30s);
  const std::string replayed = standby.Psql(kDb, kContents);
  CHECK(replayed != before_pause);
  std::this_thread::sleep_for(1500ms);
  primary.Psql(kDb, "INSERT INTO t SELECT g FROM generate_series(2000, 2099) g");
  const std::string receive_lsn = primary.Psql("postgres", "SELECT pg_current_wal_insert_lsn()");
  WaitForSql(standby, "SELECT pg_last_wal_receive_lsn() >= '" + receive_lsn + "'::pg_lsn", "t", 60s);
  std::this_thread::sleep_for(1s);
  const ProcessResult behind = env.RunOk({"backup"});
  const std::string lagging_id = LoggedBackupId(behind.err, kDb);
  const auto lagging = ReadManifest(env, lagging_id);
  INFO(behind.err << dhanbak::format::ManifestToJson(lagging).substr(0, 600));
  REQUIRE(lagging.standby.has_value());
  CHECK(lagging.standby->replay_lag_seconds >= 2.0);
  CHECK(lagging.standby->last_replay_at > 0);
  CHECK(lagging.snapshot_time == lagging.standby->last_replay_at);
  CHECK(lagging.snapshot_time < lagging.started_at - 2000000);
  standby.Psql("postgres", "SELECT pg_wal_replay_resume()");

  // Restored into the primary, beside the live database: what the standby had replayed.
  UseServer(env, primary);
  primary.DropDatabase("standby_db_restored");
  env.RunOk({"restore", kDb, "--backup", lagging_id, "--target-db", "standby_db_restored"});
  CHECK(primary.Psql("standby_db_restored", kContents) == replayed);
  CHECK(primary.Psql(kDb, kContents) != replayed);
  primary.DropDatabase("standby_db_restored");
}

TEST_CASE("standby: a recovery conflict is retried with a new snapshot; when every attempt is cancelled the "
          "error names hot_standby_feedback and max_standby_streaming_delay") {
  StandbyPair pair("hot_standby_feedback = off\nmax_standby_streaming_delay = 0\n");
  PgCluster& primary = pair.primary;
  PgCluster& standby = *pair.standby;
  DhanbakEnv& env = pair.env;

  SUBCASE("cancelled once: a new snapshot gets through") {
    PausedBackup run(env, "backup-snapshot", false);
    REQUIRE(run.WaitReached());
    RemoveRowsUnderTheSnapshot(primary, standby, 1);
    run.Continue();
    ProcessResult r = run.Finish();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("conflict with recovery") != std::string::npos);
    CHECK(r.err.find("attempt 2 of 3") != std::string::npos);
    const auto listed = env.ListJson(kDb);
    REQUIRE(!listed.empty());
    CHECK(listed[0].at("status") == "ok");
    UseServer(env, primary);
    primary.DropDatabase("standby_db_retried");
    env.RunOk({"restore", kDb, "--target-db", "standby_db_retried"});
    CHECK(primary.Psql("standby_db_retried", kContents) == primary.Psql(kDb, kContents));
    primary.DropDatabase("standby_db_retried");
  }
  SUBCASE("cancelled at every attempt: failed, with the settings to change, nothing stored") {
    PausedBackup run(env, "backup-snapshot", true);
    for (int attempt = 1; attempt <= 3; ++attempt) {
      CAPTURE(attempt);
      REQUIRE(run.WaitReached());
      RemoveRowsUnderTheSnapshot(primary, standby, attempt);
      run.Continue();
    }
    ProcessResult r = run.Finish();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("3 attempts failed") != std::string::npos);
    CHECK(r.err.find("hot_standby_feedback = on") != std::string::npos);
    CHECK(r.err.find("max_standby_streaming_delay (now 0)") != std::string::npos);
    CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests"));
    for (const auto& b : env.ListJson(kDb)) CHECK(b.at("status") == "failed");
  }
}

TEST_CASE("standby: base-backup on a hot standby; one database restored from it and the primary's WAL at a second") {
  PgCluster primary(PgCluster::Options{.wal_segment_mb = 16});  // PostgreSQL's default segment size
  WalArchiveEnv env;
  env.EnableArchiving(primary);
  // A base backup on a standby needs full-page writes in the WAL it replayed (PostgreSQL refuses
  // otherwise); the test clusters turn them off for speed.
  primary.Psql("postgres", "ALTER SYSTEM SET full_page_writes = on");
  primary.Psql("postgres", "SELECT pg_reload_conf()");
  primary.Psql("postgres", "CHECKPOINT");
  SmallDatabase(primary, kDb);
  PgCluster standby(PgCluster::StandbyOf{primary, ""});
  WaitForReplay(primary, standby);
  PointAt(env, standby);

  // The standby's last segment reaches the repository when the primary moves on to the next.
  std::atomic<bool> done{false};
  std::thread switcher([&] {
    while (!done) {
      std::this_thread::sleep_for(2s);
      try {
        env.SwitchAndWaitArchived(primary, 30s);
      } catch (const std::exception&) {
        // the next round tries again; the base backup's own timeout is what fails the test
      }
    }
  });
  ProcessResult base = env.Run({"base-backup"}, std::chrono::minutes(3));
  done = true;
  switcher.join();
  INFO(base.out << base.err);
  REQUIRE(base.exit_code == 0);
  CHECK(base.err.find("on a hot standby") != std::string::npos);

  primary.Psql(kDb, "INSERT INTO t SELECT g FROM generate_series(5000, 5009) g");
  const std::string expected = primary.Psql(kDb, kContents);
  const std::string at = PointInTime(primary);
  primary.Psql(kDb, "DELETE FROM t WHERE id > 50");
  env.SwitchAndWaitArchived(primary, 60s);

  UseServer(env.config_path(), primary);
  primary.DropDatabase("standby_db_at");
  ProcessResult restored = env.Run({"restore", kDb, "--at", at, "--source", "wal", "--target-db", "standby_db_at"},
                                   std::chrono::minutes(5));
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  CHECK(primary.Psql("standby_db_at", kContents) == expected);
  CHECK(primary.Psql(kDb, kContents) != expected);
  primary.DropDatabase("standby_db_at");
}

}  // namespace standby_test
