// Which backup a restore picks (design §1 "Restore", §2 TIME): `--at` is the newest good backup
// taken at or before the time, `--backup` is exactly that backup, and times that cannot match
// anything are errors that say why. Three backups of a database whose marker row changes in
// between tell the restored states apart.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/time_spec.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace selection_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using dhanbak::FormatUtcIso;
using dhanbak::ParseUtcIso;
using dhanbak::UnixMicros;

namespace {

const std::string kDb = "selection-db";

struct Backup {
  std::string id;
  UnixMicros snapshot = 0;
};

// Restores with `selector` into a fresh database and returns its marker value.
std::string RestoredVersion(PgCluster& cluster, const DhanbakEnv& env, const std::vector<std::string>& selector,
                            const std::string& target) {
  cluster.DropDatabase(target);
  std::vector<std::string> args = {"restore", kDb, "--target-db", target};
  args.insert(args.end(), selector.begin(), selector.end());
  env.RunOk(args);
  std::string v = cluster.Psql(target, "SELECT version FROM marker");
  cluster.DropDatabase(target);
  return v;
}

// A UTC time with microseconds, in a TIME syntax the design lists (explicit offset, so the
// test does not depend on the host's zone).
std::string TimeArg(UnixMicros t) { return FormatUtcIso(t); }

// Three backups (marker version 1, 2, 3), made once for the whole binary: the cases below only
// restore, so they can share them.
struct Fixture {
  PgCluster& cluster = SharedCluster();
  DhanbakEnv env{{kDb}};
  std::vector<Backup> backups;

  Fixture() {
    cluster.DropDatabase(kDb);
    cluster.CreateDatabase(kDb);
    cluster.Psql(kDb, "CREATE TABLE marker(version int NOT NULL); INSERT INTO marker VALUES (1);"
                      "CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g");
    env.InitFast();
    for (int version = 1; version <= 3; ++version) {
      if (version > 1) {
        cluster.Psql(kDb, "UPDATE marker SET version = " + std::to_string(version) +
                              "; INSERT INTO filler SELECT g, md5(g::text) FROM generate_series(1, 100) g");
      }
      ProcessResult r = env.RunOk({"backup"});
      backups.push_back({LoggedBackupId(r.err, kDb), 0});
      // Whole seconds apart, so even second-granularity times fall strictly between backups.
      if (version < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    }
    nlohmann::json listed = env.ListJson(kDb);
    REQUIRE(listed.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      const auto& entry = listed[2 - i];  // newest first in the list
      REQUIRE(entry["backup_id"] == backups[i].id);
      REQUIRE(entry["status"] == "ok");
      backups[i].snapshot = ParseUtcIso(entry["snapshot_time"].get<std::string>());
    }
    REQUIRE(backups[0].snapshot < backups[1].snapshot);
    REQUIRE(backups[1].snapshot < backups[2].snapshot);
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

}  // namespace

TEST_CASE("selection: latest and no selector pick the newest") {
  auto& [cluster, env, backups] = Shared();
  CHECK(RestoredVersion(cluster, env, {"--at", "latest"}, "sel_latest") == "3");
  CHECK(RestoredVersion(cluster, env, {}, "sel_default") == "3");
}

TEST_CASE("selection: a time between two backups picks the older one") {
  auto& [cluster, env, backups] = Shared();
  UnixMicros between_1_2 = (backups[0].snapshot + backups[1].snapshot) / 2;
  UnixMicros between_2_3 = (backups[1].snapshot + backups[2].snapshot) / 2;
  CHECK(RestoredVersion(cluster, env, {"--at", TimeArg(between_1_2)}, "sel_between12") == "1");
  CHECK(RestoredVersion(cluster, env, {"--at", TimeArg(between_2_3)}, "sel_between23") == "2");
}

TEST_CASE("selection: a time exactly at a backup's snapshot picks that backup ('at or before')") {
  auto& [cluster, env, backups] = Shared();
  CHECK(RestoredVersion(cluster, env, {"--at", TimeArg(backups[1].snapshot)}, "sel_exact") == "2");
  CHECK(RestoredVersion(cluster, env, {"--at", TimeArg(backups[1].snapshot - 1)}, "sel_just_before") == "1");
}

TEST_CASE("selection: other TIME syntaxes: offsets, whole seconds, a date alone") {
  auto& [cluster, env, backups] = Shared();
  // Whole seconds after backup 2 (rounded up) but before backup 3: the space form with offset.
  UnixMicros after_2 = (backups[1].snapshot / 1000000 + 1) * 1000000;
  REQUIRE(after_2 < backups[2].snapshot);
  std::string iso = FormatUtcIso(after_2);  // 2024-01-15T09:00:00.000000Z
  std::string spaced = iso.substr(0, 10) + " " + iso.substr(11, 8) + "+00:00";
  CHECK(RestoredVersion(cluster, env, {"--at", spaced}, "sel_spaced") == "2");
  // The same instant written in another zone (India, +05:30).
  CHECK(RestoredVersion(cluster, env, {"--at", FormatUtcIso(after_2 + 19800LL * 1000000).substr(0, 19) + "+05:30"},
                        "sel_ist") == "2");
  // A date alone is the end of that day (local time, TZ=UTC here): the newest backup of it.
  std::string day = FormatUtcIso(backups[2].snapshot).substr(0, 10);
  CHECK(RestoredVersion(cluster, env, {"--at", day}, "sel_day") == "3");
}

TEST_CASE("selection: --backup picks exactly that backup") {
  auto& [cluster, env, backups] = Shared();
  CHECK(RestoredVersion(cluster, env, {"--backup", backups[0].id}, "sel_b1") == "1");
  CHECK(RestoredVersion(cluster, env, {"--backup", backups[1].id}, "sel_b2") == "2");
  CHECK(RestoredVersion(cluster, env, {"--backup", backups[2].id}, "sel_b3") == "3");
}

TEST_CASE("selection: --backup with an unknown id fails naming it") {
  auto& [cluster, env, backups] = Shared();
  ProcessResult r = env.Run({"restore", kDb, "--backup", "20000101T000000Z-deadbeef", "--target-db", "sel_unknown"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("20000101T000000Z-deadbeef") != std::string::npos);
  CHECK_FALSE(cluster.DatabaseExists("sel_unknown"));
}

TEST_CASE("selection: --at before the first backup fails naming the earliest backup") {
  auto& [cluster, env, backups] = Shared();
  UnixMicros before = backups[0].snapshot - 1000000;
  for (const std::string& at : {TimeArg(before), std::string("2020-01-01")}) {
    CAPTURE(at);
    ProcessResult r = env.Run({"restore", kDb, "--at", at, "--target-db", "sel_too_early"});
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code < 128);  // an error, not a crash
    CHECK_MESSAGE(r.err.find(backups[0].id) != std::string::npos, r.err);
    CHECK_FALSE(cluster.DatabaseExists("sel_too_early"));
  }
}

TEST_CASE("selection: a time in the future is a usage error") {
  auto& [cluster, env, backups] = Shared();
  UnixMicros in_an_hour = dhanbak::NowMicros() + 3600LL * 1000000;
  for (const std::string& at : {std::string("2999-01-01"), TimeArg(in_an_hour)}) {
    CAPTURE(at);
    ProcessResult r = env.Run({"restore", kDb, "--at", at, "--target-db", "sel_future"});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find("future") != std::string::npos, r.err);
    CHECK_FALSE(cluster.DatabaseExists("sel_future"));
  }
}

TEST_CASE("selection: malformed TIME values are usage errors") {
  auto& [cluster, env, backups] = Shared();
  for (const char* at : {"yesterday", "2024-13-01", "2024-01-32", "2024-01-15T25:00", "15/01/2024", "", "latest!"}) {
    CAPTURE(at);
    ProcessResult r = env.Run({"restore", kDb, "--at", at, "--target-db", "sel_bad_time"});
    CHECK(r.exit_code == 2);
    CHECK_FALSE(cluster.DatabaseExists("sel_bad_time"));
  }
}

TEST_CASE("selection: --at together with --backup is a usage error") {
  auto& [cluster, env, backups] = Shared();
  ProcessResult r =
      env.Run({"restore", kDb, "--at", "latest", "--backup", backups[0].id, "--target-db", "sel_both"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(cluster.DatabaseExists("sel_both"));
}

TEST_CASE("selection: a backup of another database is not picked by --backup") {
  auto& [cluster, env, backups] = Shared();
  ProcessResult r = env.Run({"restore", "some-other-db", "--backup", backups[0].id, "--target-db", "sel_other"});
  CHECK(r.exit_code != 0);
  CHECK_FALSE(cluster.DatabaseExists("sel_other"));
}

}  // namespace selection_test
