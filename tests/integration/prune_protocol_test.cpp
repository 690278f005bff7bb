// Prune and backups on two hosts sharing one repository (separate catalogs, as two machines have):
// every interleaving the pause points can force must leave each stored backup restorable.
// The hazard in each case: chunks referenced only by expired backups (a table dropped since) are
// garbage to prune, while a new backup of the re-created table deduplicates against them.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/dhanbak_env.hpp"
#include "support/paused_command.hpp"
#include "support/pg_cluster.hpp"

namespace prune_protocol_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kDb = "protocol_db";
constexpr const char* kOldTable =
    "CREATE TABLE old_t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g";

// A second "host": its own work directory and catalog, the first host's repository.
void ShareRepository(const DhanbakEnv& host, const DhanbakEnv& owner) {
  std::ifstream in(host.config_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string toml = std::regex_replace(text.str(), std::regex("url = \"file://[^\"]*\""),
                                        "url = \"file://" + owner.repo_dir() + "\"");
  std::ofstream(host.config_path(), std::ios::trunc) << toml;
}

// A run that stops at the named pause points until Continue() is called for each.
class PausedRun {
 public:
  PausedRun(const DhanbakEnv& env, const std::vector<std::string>& args, const std::string& points)
      : dir_(env.dir() + "/pause-" + std::to_string(++counter_)) {
    fs::create_directories(dir_);
    ProcessOptions o = env.Options();
    o.env.push_back({"DHANBAK_TEST_PAUSE", points});
    o.env.push_back({"DHANBAK_TEST_PAUSE_DIR", dir_});
    o.env.push_back({"DHANBAK_TEST_LOCK_REFRESH_SECONDS", "1"});  // stale after 6 s
    process_ = std::make_unique<BackgroundProcess>(env.Argv(args), o);
  }
  bool WaitFor(const std::string& point, std::chrono::seconds timeout = 60s) {
    return WaitForPausePoint(dir_, point, *process_, timeout);
  }
  void Continue(const std::string& point) { ContinueFromPausePoint(dir_, point); }
  BackgroundProcess& process() { return *process_; }
  ProcessResult Finish() {
    ProcessResult r = process_->Wait(std::chrono::minutes(3));
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    CHECK_FALSE(r.timed_out);
    return r;
  }

 private:
  static inline int counter_ = 0;
  std::string dir_;
  std::unique_ptr<BackgroundProcess> process_;
};

ProcessOptions FastLocks(const DhanbakEnv& env) {
  ProcessOptions o = env.Options();
  o.env.push_back({"DHANBAK_TEST_LOCK_REFRESH_SECONDS", "1"});
  return o;
}

// Host A's repository holds an expired backup whose chunks (table old_t, dropped since) are old
// garbage, and a kept one without old_t; old_t is then re-created with the very same rows, so
// the next backup's data chunks are exactly that garbage.
struct TwoHosts {
  PgCluster& cluster = SharedCluster();
  DhanbakEnv a{{kDb}};
  DhanbakEnv b{{kDb}};

  TwoHosts() {
    cluster.DropDatabase(kDb);
    cluster.CreateDatabase(kDb);
    cluster.Psql(kDb, std::string(kOldTable) + "; CREATE TABLE keep_t (id int); INSERT INTO keep_t VALUES (1);");
    std::ofstream(a.config_path(), std::ios::app) << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
    ShareRepository(b, a);
    a.InitFast();
    a.RunOk({"backup"});
    cluster.Psql(kDb, "DROP TABLE old_t; INSERT INTO keep_t VALUES (2);");
    a.RunOk({"backup"});
    AgeFiles(a.repo_dir() + "/chunks", 2);
    cluster.Psql(kDb, kOldTable);
  }
  ~TwoHosts() {
    cluster.DropDatabase(kDb);
    cluster.DropDatabase("protocol_restored");
  }
  std::string chunks() const { return a.repo_dir() + "/chunks"; }

  // Host B's newest backup restores, with old_t complete.
  void CheckRestorable() {
    cluster.DropDatabase("protocol_restored");
    b.RunOk({"restore", kDb, "--at", "latest", "--target-db", "protocol_restored"});
    CHECK(cluster.Psql("protocol_restored", "SELECT count(*) FROM old_t") == "20000");
    b.RunOk({"check"});
  }
};

ProcessResult RunWithFastLocks(const DhanbakEnv& env, const std::vector<std::string>& args) {
  return RunProcess(env.Argv(args), FastLocks(env));
}

}  // namespace

TEST_CASE("a backup that starts while prune sweeps waits for it, then stores what prune deleted") {
  TwoHosts hosts;
  PausedRun prune(hosts.a, {"prune"}, "prune-sweep");
  REQUIRE(prune.WaitFor("prune-sweep"));
  PausedRun backup(hosts.b, {"backup"}, "");
  CHECK(backup.process().WaitForOutput("waiting for prune on host", 30s));
  CHECK_FALSE(backup.process().WaitForOutput("backed up", 2s));
  prune.Continue("prune-sweep");
  ProcessResult pr = prune.Finish();
  CHECK(pr.exit_code == 0);
  CHECK(pr.out.find("deleting backup") != std::string::npos);
  ProcessResult br = backup.Finish();
  CHECK(br.exit_code == 0);
  hosts.CheckRestorable();
}

TEST_CASE("prune refuses while a backup on another host holds its lock, however long that backup runs") {
  TwoHosts hosts;
  PausedRun backup(hosts.b, {"backup"}, "backup-locked");
  REQUIRE(backup.WaitFor("backup-locked"));
  // Longer than the stale time (6 s here): the heartbeat keeps the lock alive.
  std::this_thread::sleep_for(8s);
  const size_t chunks_before = CountFiles(hosts.chunks());
  ProcessResult pr = RunWithFastLocks(hosts.a, {"prune"});
  INFO("prune stderr:\n" << pr.err);
  CHECK(pr.exit_code == 4);
  CHECK(pr.err.find("backup on host") != std::string::npos);
  CHECK(CountFiles(hosts.chunks()) == chunks_before);
  CHECK(CountFiles(hosts.a.repo_dir() + "/manifests") == 2);
  backup.Continue("backup-locked");
  CHECK(backup.Finish().exit_code == 0);
  hosts.CheckRestorable();
}

TEST_CASE("a prune and a backup that take their locks at the same moment: prune yields, the backup waits for it") {
  TwoHosts hosts;
  // Both write their lock, then both list before either acts on what it saw.
  PausedRun prune(hosts.a, {"prune"}, "lock-written,lock-listed");
  PausedRun backup(hosts.b, {"backup"}, "lock-written,lock-listed");
  REQUIRE(prune.WaitFor("lock-written"));
  REQUIRE(backup.WaitFor("lock-written"));
  prune.Continue("lock-written");
  backup.Continue("lock-written");
  REQUIRE(prune.WaitFor("lock-listed"));
  REQUIRE(backup.WaitFor("lock-listed"));
  prune.Continue("lock-listed");
  backup.Continue("lock-listed");
  ProcessResult pr = prune.Finish();
  CHECK(pr.exit_code == 4);
  CHECK(pr.err.find("backup on host") != std::string::npos);
  CHECK(backup.Finish().exit_code == 0);
  hosts.CheckRestorable();
  // Nothing was deleted, and the next prune (no backup running) does its work.
  CHECK(RunWithFastLocks(hosts.a, {"prune"}).exit_code == 0);
  hosts.CheckRestorable();
}

TEST_CASE("a backup whose host stalled past the stale time re-checks its chunks and stores no broken backup") {
  TwoHosts hosts;
  PausedRun backup(hosts.b, {"backup"}, "backup-manifest");
  REQUIRE(backup.WaitFor("backup-manifest"));
  const size_t manifests_before = CountFiles(hosts.a.repo_dir() + "/manifests");
  // The whole process stops (heartbeat included) for longer than the stale time: prune judges
  // its lock abandoned, removes it and sweeps the old chunks the backup deduplicated against.
  ::kill(backup.process().pid(), SIGSTOP);
  std::this_thread::sleep_for(8s);
  ProcessResult pr = RunWithFastLocks(hosts.a, {"prune"});
  INFO("prune stderr:\n" << pr.err);
  CHECK(pr.exit_code == 0);
  CHECK(pr.err.find("abandoned repository lock") != std::string::npos);
  ::kill(backup.process().pid(), SIGCONT);
  backup.Continue("backup-manifest");
  ProcessResult br = backup.Finish();
  CHECK(br.exit_code == 4);
  CHECK(br.err.find("were deleted while it ran") != std::string::npos);
  // No manifest naming missing chunks was left behind (prune deleted one expired backup).
  CHECK(CountFiles(hosts.a.repo_dir() + "/manifests") == manifests_before - 1);
  // The next night stores the chunks again.
  hosts.b.RunOk({"backup"});
  hosts.CheckRestorable();
}

TEST_CASE("a run killed with SIGKILL leaves a lock that the other side treats as abandoned at once on this host") {
  TwoHosts hosts;
  SUBCASE("a killed prune does not hold up the backup") {
    PausedRun prune(hosts.a, {"prune"}, "prune-sweep");
    REQUIRE(prune.WaitFor("prune-sweep"));
    prune.process().Signal(SIGKILL);
    prune.process().Wait(30s);
    REQUIRE(CountFiles(hosts.a.repo_dir() + "/locks") == 1);
    ProcessResult br = RunWithFastLocks(hosts.b, {"backup"});
    INFO("backup stderr:\n" << br.err);
    CHECK(br.exit_code == 0);
    CHECK(br.err.find("waiting for prune") == std::string::npos);
    hosts.CheckRestorable();
    ProcessResult pr = RunWithFastLocks(hosts.a, {"prune"});
    CHECK(pr.exit_code == 0);
    CHECK(pr.err.find("removing an abandoned repository lock (its process no longer runs on this host)") !=
          std::string::npos);
    CHECK(CountFiles(hosts.a.repo_dir() + "/locks") == 0);
  }
  SUBCASE("a killed backup does not hold up prune, and its chunks are not needed by anything") {
    PausedRun backup(hosts.b, {"backup"}, "backup-manifest");
    REQUIRE(backup.WaitFor("backup-manifest"));
    backup.process().Signal(SIGKILL);
    backup.process().Wait(30s);
    ProcessResult pr = RunWithFastLocks(hosts.a, {"prune"});
    INFO("prune stderr:\n" << pr.err);
    CHECK(pr.exit_code == 0);
    CHECK(pr.err.find("abandoned repository lock") != std::string::npos);
    // The killed run stored no manifest; the next one backs up and restores.
    hosts.b.RunOk({"backup"});
    hosts.CheckRestorable();
  }
}

TEST_CASE("backups pruned by another host are forgotten by this host's status and check, not reported lost") {
  TwoHosts hosts;
  std::ofstream(hosts.b.config_path(), std::ios::app) << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
  hosts.b.RunOk({"backup"});
  hosts.b.RunOk({"backup"});
  REQUIRE(hosts.b.ListJson().size() == 2);
  hosts.a.RunOk({"prune"});  // host A expires every backup but the newest, host B's older one included
  REQUIRE(CountFiles(hosts.a.repo_dir() + "/manifests") == 1);
  ProcessResult status = hosts.b.Run({"status"});
  INFO("status:\n" << status.out << status.err);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("lost") == std::string::npos);
  hosts.b.RunOk({"check"});
  CHECK(hosts.b.ListJson().size() == 1);
}

}  // namespace prune_protocol_test
