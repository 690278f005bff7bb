// prune: expired backups go (manifest first), unreferenced chunks past the grace period go,
// what remains restores; a running backup's repository lock makes prune refuse with exit 4.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace prune_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
namespace fs = std::filesystem;

TEST_CASE("prune applies retention, sweeps unreferenced chunks after the grace period, keeps restores working") {
  PgCluster& cluster = SharedCluster();
  cluster.DropDatabase("prune_db");
  cluster.CreateDatabase("prune_db");
  cluster.Psql("prune_db", "CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;");
  DhanbakEnv env({"prune_db"});
  {
    std::ofstream cfg(env.config_path(), std::ios::app);
    cfg << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
  }
  env.InitFast();
  env.RunOk({"backup"});
  std::string first = env.ListJson().at(0).at("backup_id").get<std::string>();
  // Rewrite the table completely: the second backup shares no data chunk with the first.
  cluster.Psql("prune_db", "UPDATE t SET v = md5(v); INSERT INTO t VALUES (-1, 'marker');");
  env.RunOk({"backup"});
  std::string second = env.ListJson().at(0).at("backup_id").get<std::string>();
  REQUIRE(first != second);
  std::string chunks = env.repo_dir() + "/chunks";
  size_t chunks_before = CountFiles(chunks);

  SUBCASE("dry run deletes nothing") {
    auto r = env.RunOk({"prune", "--dry-run"});
    CHECK(r.out.find("would delete backup " + first) != std::string::npos);
    CHECK(fs::exists(env.repo_dir() + "/manifests/" + first));
    CHECK(CountFiles(chunks) == chunks_before);
  }
  SUBCASE("young unreferenced chunks survive the grace period") {
    env.RunOk({"prune"});
    CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests/" + first));
    CHECK(fs::exists(env.repo_dir() + "/manifests/" + second));
    CHECK(CountFiles(chunks) == chunks_before);  // all chunks are younger than 24 h
    CHECK(env.Run({"restore", "prune_db", "--backup", first, "--target-db", "prune_old"}).exit_code != 0);
  }
  SUBCASE("old unreferenced chunks are swept and the kept backup still restores") {
    AgeFiles(chunks, 2);
    auto r = env.RunOk({"prune"});
    CHECK(r.out.find("deleting backup " + first) != std::string::npos);
    CHECK(CountFiles(chunks) < chunks_before);
    cluster.DropDatabase("prune_restored");
    env.RunOk({"restore", "prune_db", "--at", "latest", "--target-db", "prune_restored"});
    CHECK(cluster.Psql("prune_restored", "SELECT v FROM t WHERE id = -1") == "marker");
    env.RunOk({"verify", "prune_db"});
    cluster.DropDatabase("prune_restored");
  }
  SUBCASE("a running backup's repository lock makes prune refuse") {
    HoldRunningBackupLock(env);
    auto r = env.Run({"prune"});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("backup on host") != std::string::npos);
    CHECK(fs::exists(env.repo_dir() + "/manifests/" + first));
  }
  cluster.DropDatabase("prune_db");
}

TEST_CASE("prune stops when a backup retention keeps has lost its manifest, and forgets backups pruned elsewhere") {
  PgCluster& cluster = SharedCluster();
  cluster.DropDatabase("prune_gone");
  cluster.CreateDatabase("prune_gone");
  cluster.Psql("prune_gone", "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
  DhanbakEnv env({"prune_gone"});
  std::ofstream(env.config_path(), std::ios::app) << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 2\n";
  env.InitFast();
  env.RunOk({"backup"});
  env.RunOk({"backup"});
  // The newest backup has chunks of its own: the ones a blind sweep would take.
  cluster.Psql("prune_gone", "INSERT INTO t SELECT g FROM generate_series(1001, 50000) g");
  env.RunOk({"backup"});
  auto backups = env.ListJson();  // newest first
  REQUIRE(backups.size() == 3);
  const std::string newest = backups.at(0).at("backup_id"), oldest = backups.at(2).at("backup_id");
  AgeFiles(env.repo_dir() + "/chunks", 2);
  const size_t chunks_before = CountFiles(env.repo_dir() + "/chunks");

  // Deleted by something other than prune (a leaked key, a hand in the bucket): kept by
  // retention, so its chunks must not be swept as garbage.
  fs::rename(env.repo_dir() + "/manifests/" + newest, env.dir() + "/saved-manifest");
  auto r = env.Run({"prune"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(newest) != std::string::npos);
  CHECK(r.err.find("missing from the repository") != std::string::npos);
  CHECK(CountFiles(env.repo_dir() + "/chunks") == chunks_before);
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + oldest));

  // Put back, and the oldest deleted as a prune on another host would: this catalog forgets it.
  fs::rename(env.dir() + "/saved-manifest", env.repo_dir() + "/manifests/" + newest);
  fs::remove(env.repo_dir() + "/manifests/" + oldest);
  r = env.RunOk({"prune"});
  CHECK(r.err.find("was pruned (retention expired it)") != std::string::npos);
  CHECK(env.ListJson().size() == 2);
  cluster.DropDatabase("prune_gone");
}

TEST_CASE("prune --dry-run names the rule keeping each backup; a day keeps its verified backup; --forget-database") {
  PgCluster& cluster = SharedCluster();
  for (const char* db : {"gfs_live", "gfs_retired"}) {
    cluster.DropDatabase(db);
    cluster.CreateDatabase(db);
    cluster.Psql(db, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
  }
  DhanbakEnv env({"gfs_live"});
  std::ofstream(env.config_path(), std::ios::app) << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\nkeep_daily = 2\n";
  env.InitFast();
  env.RunOk({"backup"});
  const std::string verified = env.ListJson().at(0).at("backup_id").get<std::string>();
  env.RunOk({"verify", "gfs_live"});
  env.RunOk({"backup"});
  env.RunOk({"backup"});
  env.RunOk({"backup", "gfs_retired"});
  std::vector<std::string> live;
  std::string retired;
  for (const auto& b : env.ListJson()) {
    if (b.at("database") == "gfs_live") live.push_back(b.at("backup_id").get<std::string>());
    if (b.at("database") == "gfs_retired") retired = b.at("backup_id").get<std::string>();
  }
  REQUIRE(live.size() == 3);
  REQUIRE(!retired.empty());
  const std::string newest = live.front(), middle = live.at(1);
  REQUIRE(live.back() == verified);

  // The newest by keep_last, the verified one for its day (not the newer unverified middle one).
  // keep_daily = 2 gives the same answer if the backups straddle midnight.
  auto dry = env.RunOk({"prune", "--dry-run"});
  INFO(dry.out);
  auto line_of = [&](const std::string& start) {
    const size_t at = dry.out.find(start);
    return at == std::string::npos ? std::string() : dry.out.substr(at, dry.out.find('\n', at) - at);
  };
  CHECK(line_of("would keep backup " + newest + " of gfs_live taken ").find(": keep_last 1") != std::string::npos);
  const std::string kept_verified = line_of("would keep backup " + verified + " of gfs_live taken ");
  CHECK(kept_verified.find(": daily ") != std::string::npos);
  const std::string day = kept_verified.substr(kept_verified.find(": daily ") + 8, 10);
  CHECK(line_of("would delete backup " + middle + " of gfs_live").find("(no retention rule keeps it)") !=
        std::string::npos);
  CHECK(line_of("would keep backup " + retired + " of gfs_retired").find(": keep_last 1") != std::string::npos);
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + middle));
  auto dry_json = env.RunOk({"--json", "prune", "--dry-run"});
  CHECK(dry_json.out.find("\"kept_by\": \"daily " + day + "\"") != std::string::npos);

  // status: every database with its restorable span and RPO; one no longer configured is listed
  // without an alert (both are older than --max-age 1s, only the configured one alerts).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto status = env.Run({"--json", "status", "--max-age", "1s"});
  CHECK(status.exit_code == 5);
  std::string oldest_time;
  for (const auto& b : env.ListJson()) {
    if (b.at("backup_id") == verified) oldest_time = b.at("snapshot_time").get<std::string>();
  }
  const auto status_json = nlohmann::json::parse(status.out);  // kept alive for the loop below
  for (const auto& d : status_json.at("databases")) {
    CAPTURE(d.dump());
    if (d.at("database") == "gfs_live") {
      CHECK(d.at("configured") == true);
      CHECK(d.at("ok") == false);
      CHECK(d.at("restorable_from") == oldest_time);
      CHECK(d.at("rpo_seconds").get<int64_t>() >= 1);
      CHECK(d.at("rpo_seconds").get<int64_t>() < 600);
    } else {
      CHECK(d.at("database") == "gfs_retired");
      CHECK(d.at("configured") == false);
      CHECK(d.at("ok") == true);
      CHECK(d.at("problems").empty());
    }
  }
  auto status_text = env.Run({"status"});
  CHECK(status_text.exit_code == 0);
  CHECK(status_text.out.find("RPO") != std::string::npos);
  CHECK(status_text.out.find("not configured (no alert)") != std::string::npos);

  // A database still configured is never forgotten.
  auto refused = env.Run({"prune", "--forget-database", "gfs_live"});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("still in [postgres] databases") != std::string::npos);
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + middle));

  auto forget_dry = env.RunOk({"prune", "--dry-run", "--forget-database", "gfs_retired"});
  CHECK(forget_dry.out.find("would delete backup " + retired + " of gfs_retired") != std::string::npos);
  CHECK(forget_dry.out.find("(--forget-database)") != std::string::npos);
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + retired));

  auto forget = env.RunOk({"prune", "--forget-database", "gfs_retired"});
  CHECK(forget.out.find("deleting backup " + retired) != std::string::npos);
  CHECK(forget.out.find("deleting backup " + middle) != std::string::npos);
  CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests/" + retired));
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + verified));
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + newest));
  for (const auto& b : env.ListJson()) CHECK(b.at("database") == "gfs_live");
  CHECK(env.Run({"check"}).exit_code == 0);
  for (const char* db : {"gfs_live", "gfs_retired"}) cluster.DropDatabase(db);
}

}  // namespace prune_test
