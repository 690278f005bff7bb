// [limits]: a backup stuck behind a lock that nobody releases is stopped by stall_timeout, and
// by run_timeout: it ends as failed (exit 1, the reason said, notified and in the metrics), its repository
// lock released and no backup half-written; once the lock is gone the next backup succeeds.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/dhanbak_env.hpp"
#include "support/notification_recorder.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace limits_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;
using namespace dhanbak::test;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

size_t RepositoryLocks(const DhanbakEnv& env) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(env.repo_dir() + "/locks", ec)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("limits: stall_timeout and run_timeout stop a backup stuck on a lock; failed, reported, nothing left") {
  PgCluster& cluster = SharedCluster();
  SmallDatabase(cluster, "limits_db");
  // Another session holds the table exclusively and never lets go.
  BackgroundProcess locker({cluster.bindir() + "/psql", "-X", "-h", "127.0.0.1", "-p", std::to_string(cluster.port()),
                            "-U", "postgres", "-d", "dbname=limits_db application_name=limits_locker", "-c",
                            "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);"});
  WaitForSql(cluster, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE "
                      "d.datname = 'limits_db' AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted",
             "1", std::chrono::seconds(30));

  for (const auto& [key, reason] : {std::pair{"stall_timeout = \"3s\"", "nothing moved for [limits] stall_timeout (3s)"},
                                    std::pair{"run_timeout = \"4s\"", "the run exceeded [limits] run_timeout (4s)"}}) {
    CAPTURE(key);
    DhanbakEnv env({"limits_db"});
    const std::string metrics = env.dir() + "/dhanbak.prom";
    NotificationRecorder recorder;
    const std::string base = "http://127.0.0.1:" + std::to_string(recorder.port);
    std::ofstream(env.config_path(), std::ios::app)
        << "\n[limits]\n" << key << "\n[notify]\nmetrics_file = \"" << metrics << "\"\nwebhook_url = \"" << base
        << "/hook\"\nping_failure_url = \"" << base << "/fail?msg={msg}\"\n";
    env.InitFast();
    const auto started = std::chrono::steady_clock::now();
    ProcessResult stuck = env.Run({"backup"});
    const auto took = std::chrono::steady_clock::now() - started;
    INFO(stuck.out << stuck.err);
    CHECK(stuck.exit_code == 1);  // failed, not "stopped by a signal"
    CHECK(stuck.err.find(reason) != std::string::npos);
    CHECK(took < std::chrono::seconds(60));
    CHECK(RepositoryLocks(env) == 0);                  // its repository lock released
    CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests"));  // no backup half-written
    const auto listed = env.ListJson("limits_db");
    for (const auto& b : listed) CHECK(b.at("status") != "ok");
    CHECK(ReadAll(metrics).find("dhanbak_last_run_success{command=\"backup\"} 0") != std::string::npos);
    // Notified as a failure, with the reason.
    std::lock_guard<std::mutex> lock(recorder.mu);
    REQUIRE(recorder.hook_bodies.size() == 1);
    CHECK(recorder.hook_bodies[0].find(reason) != std::string::npos);
    REQUIRE(recorder.events.size() == 1);
    CHECK(recorder.events[0].starts_with("fail "));
    CHECK(recorder.events[0].find(reason) != std::string::npos);
  }
  CHECK(cluster.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'limits_db' AND "
                                 "application_name LIKE '%dhanbak%'") == "0");

  // The lock gone, the same configuration backs up. Ending psql alone would leave its backend
  // asleep in pg_sleep, still holding the lock: end the backend.
  CHECK(cluster.Psql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = 'limits_locker'") == "1");
  locker.Wait(std::chrono::seconds(10));
  DhanbakEnv env({"limits_db"});
  std::ofstream(env.config_path(), std::ios::app) << "\n[limits]\nrun_timeout = \"10m\"\nstall_timeout = \"5m\"\n";
  env.InitFast();
  env.RunOk({"backup"});
  cluster.DropDatabase("limits_db");
}

}  // namespace limits_test
