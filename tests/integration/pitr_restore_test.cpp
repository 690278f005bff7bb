// One database back at any second (issue 10): `dhanbak restore DB --at TIME` replays the WAL
// archive in a scratch server, copies the one database out and loads it into the live cluster,
// verified, without touching the other databases. The harness archives through dhanbak, writes
// with recorded points in time, then does what incidents do (a DELETE without WHERE, a bad
// UPDATE, a DROP TABLE) and restores to points before them.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/paused_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/pitr_fixture.hpp"
#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace pitr_restore_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string Ledger(const PgCluster& c, const std::string& db) {
  return c.Psql(db, "SELECT count(*) || ':' || coalesce(md5(string_agg(id || '/' || amount || '/' || coalesce(note, '-'), "
                    "',' ORDER BY id)), '') FROM entries");
}

std::string Payroll(const PgCluster& c, const std::string& db) {
  return c.Psql(db, "SELECT count(*) || ':' || coalesce(sum(gross), 0) FROM slips");
}

bool DatabaseExists(const PgCluster& c, const std::string& db) {
  return c.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + db + "'") == "1";
}

// What a run left under the scratch directory (nothing, after every run).
std::vector<std::string> ScratchContents(const WalArchiveEnv& env) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(env.scratch_dir(), ec)) names.push_back(e.path().filename().string());
  return names;
}

ProcessResult Restore(const WalArchiveEnv& env, const std::vector<std::string>& args, const std::string& tz = "UTC") {
  std::vector<std::string> argv{"restore"};
  argv.insert(argv.end(), args.begin(), args.end());
  return env.Run(argv, 5min, tz);
}

// TIME (UTC ISO) as wall-clock time in `zone`, as the server computes it.
std::string LocalWallClock(const PgCluster& c, const std::string& utc_iso, const std::string& zone) {
  return c.Psql("postgres", "SELECT to_char(('" + utc_iso + "'::timestamptz) AT TIME ZONE '" + zone +
                                "', 'YYYY-MM-DD HH24:MI:SS.US')");
}

void DropDatabases(const PgCluster& c, const std::vector<std::string>& names) {
  for (const auto& db : names) c.Psql("postgres", "DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
}

// The start of every case: archiving into `env`, the two test databases (ledger's table in
// tablespace `space`), and none of `restored` (the databases the case restores into).
void Prepare(PgCluster& cluster, const WalArchiveEnv& env, const std::string& space,
             const std::vector<std::string>& restored) {
  env.EnableArchiving(cluster);
  PointAt(env, cluster);
  CreateSchema(cluster, TablespaceDir(cluster, space));
  DropDatabases(cluster, restored);
}

}  // namespace

TEST_CASE("restore DB --at TIME brings one database back from the WAL archive, the others untouched") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::vector<std::string> restored{"ledger_back", "payroll_t2", "ledger_tz", "ledger_offset", "ledger_nightly",
                                          "ledger_t3"};
  Prepare(cluster, env, "pitr-space", restored);

  ProcessResult nightly = env.Run({"backup", "ledger", "payroll"}, 5min);
  INFO(nightly.out << nightly.err);
  REQUIRE(nightly.exit_code == 0);
  const std::string ledger_nightly = Ledger(cluster, "ledger");
  const std::string t0 = PointInTime(cluster);  // before any base backup
  cluster.Psql("ledger", "INSERT INTO entries SELECT g, g, 'after the nightly backup' FROM generate_series(5001, 5100) g");

  ProcessResult base = env.Run({"base-backup"}, 5min);
  INFO(base.out << base.err);
  REQUIRE(base.exit_code == 0);

  cluster.Psql("ledger", "UPDATE entries SET amount = amount + 1 WHERE id % 7 = 0;"
                         "INSERT INTO entries SELECT g, g / 3.0, NULL FROM generate_series(5101, 7000) g");
  const std::string t1 = PointInTime(cluster);
  const std::string ledger_t1 = Ledger(cluster, "ledger");
  const std::string payroll_t1 = Payroll(cluster, "payroll");
  cluster.Psql("ledger", "DELETE FROM entries");  // the incident: a DELETE without WHERE
  cluster.Psql("payroll", "INSERT INTO slips(gross) VALUES (12345)");
  const std::string t2 = PointInTime(cluster);
  const std::string payroll_t2 = Payroll(cluster, "payroll");
  cluster.Psql("payroll", "UPDATE slips SET gross = 0");  // a bad UPDATE
  cluster.Psql("ledger", "INSERT INTO entries VALUES (1, 1, 'first entry after the incident')");
  const std::string t3 = PointInTime(cluster);
  const std::string ledger_t3 = Ledger(cluster, "ledger");
  cluster.Psql("ledger", "DROP TABLE entries");  // and then a DROP TABLE
  env.SwitchAndWaitArchived(cluster);
  const std::string payroll_live = Payroll(cluster, "payroll");
  {
    ProcessResult listed = env.Run({"list", "ledger"});
    INFO(listed.out << listed.err);
    CHECK(listed.out.find("point in time: any second from ") != std::string::npos);
    auto j = nlohmann::json::parse(env.Run({"--json", "list", "ledger"}).out);
    CHECK(j["restorable_window"]["from"].is_string());
    CHECK(j["restorable_window"]["to"].get<std::string>() >= t3);
  }

  {  // timeline: the DELETE after t1 and the DROP TABLE, with the time to restore to before each
    ProcessResult tl = env.Run({"timeline", "ledger", "--around", t1, "--minutes", "5"});
    INFO(tl.out << tl.err);
    REQUIRE(tl.exit_code == 0);
    CHECK(tl.out.find(" 7000 DELETE") != std::string::npos);  // entries, dropped since: by file number
    CHECK(tl.out.find("DDL or TRUNCATE") != std::string::npos);  // the DROP TABLE
    CHECK(tl.out.find("(the time asked)") != std::string::npos);
    auto j = nlohmann::json::parse(env.Run({"--json", "timeline", "ledger", "--around", t1}).out);
    const std::string before_delete = j["restore_before_first_after"];
    CHECK(before_delete > t1);
    CHECK(tl.out.find("--at " + before_delete) != std::string::npos);
    bool delete_seen = false;
    for (const auto& t : j["transactions"]) {
      for (const auto& c : t["changes"]) delete_seen = delete_seen || (c["operation"] == "DELETE" && c["rows"] == 7000);
    }
    CHECK(delete_seen);
    // Restoring to the second it names gives the state just before the DELETE.
    ProcessResult r = Restore(env, {"ledger", "--at", before_delete, "--target-db", "ledger_back"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Ledger(cluster, "ledger_back") == ledger_t1);
    cluster.Psql("postgres", "DROP DATABASE ledger_back WITH (FORCE)");
  }
  {  // beside the live database, at the second before the DELETE
    ProcessResult r = Restore(env, {"ledger", "--at", t1, "--target-db", "ledger_back"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("source: WAL archive", 0) == 0);
    CHECK(r.out.find("the WAL archive covers it: base backup ") != std::string::npos);
    CHECK(r.out.find("last transaction replayed: ") != std::string::npos);
    CHECK(r.out.find("point asked for:") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_back") == ledger_t1);
    CHECK(cluster.Psql("ledger", "SELECT count(*) FROM pg_class WHERE relname = 'entries'") == "0");  // live untouched
    CHECK(Payroll(cluster, "payroll") == payroll_live);
    CHECK(ScratchContents(env).empty());
    // The restored table keeps its tablespace, as on the source.
    CHECK(cluster.Psql("ledger_back", "SELECT coalesce(t.spcname, '-') FROM pg_class c LEFT JOIN pg_tablespace t "
                                      "ON t.oid = c.reltablespace WHERE c.relname = 'entries'") == "bb_space");
  }
  {  // --replace puts the database back as it was before the bad UPDATE, keeping the damaged one aside
    cluster.Psql("postgres", "DROP DATABASE IF EXISTS payroll_t2 WITH (FORCE)");
    ProcessResult r = Restore(env, {"--json", "payroll", "--at", t2, "--replace", "--yes"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["source"] == "wal");
    CHECK(j["replaced"] == true);
    CHECK(j["last_transaction"].is_string());
    CHECK(j["last_transaction"].get<std::string>() <= t2);
    CHECK(Payroll(cluster, "payroll") == payroll_t2);
    const std::string aside = j["kept_aside"];
    REQUIRE(!aside.empty());
    CHECK(Payroll(cluster, aside) == payroll_live);
    CHECK(cluster.Psql("ledger", "SELECT count(*) FROM pg_class WHERE relname = 'entries'") == "0");
    cluster.Psql("postgres", "DROP DATABASE \"" + aside + "\" WITH (FORCE)");
    CHECK(ScratchContents(env).empty());
  }
  {  // --table, just before the DROP TABLE, with --source wal
    ProcessResult r = Restore(env, {"ledger", "--at", t3, "--source", "wal", "--target-db", "ledger_t3", "--table",
                                    "public.entries"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("--source wal: base backup") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_t3") == ledger_t3);
    CHECK(ledger_t3.rfind("1:", 0) == 0);
  }
  {  // a TIME without an offset is local time in TZ; with an offset, that offset
    const std::string local = LocalWallClock(cluster, t1, "America/New_York");
    ProcessResult r = Restore(env, {"ledger", "--at", local, "--target-db", "ledger_tz"}, "America/New_York");
    INFO(local << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Ledger(cluster, "ledger_tz") == ledger_t1);
    const std::string offset = LocalWallClock(cluster, t1, "Asia/Kolkata") + "+05:30";
    r = Restore(env, {"ledger", "--at", offset, "--target-db", "ledger_offset"}, "America/New_York");
    INFO(offset << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Ledger(cluster, "ledger_offset") == ledger_t1);
  }
  {  // before the first base backup: the nightly backup, or a refusal with --source wal
    ProcessResult r = Restore(env, {"ledger", "--at", t0, "--source", "wal", "--target-db", "ledger_nightly"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no base backup ended at or before") != std::string::npos);
    CHECK(r.err.find("nothing was restored") != std::string::npos);
    CHECK_FALSE(DatabaseExists(cluster, "ledger_nightly"));
    r = Restore(env, {"ledger", "--at", t0, "--target-db", "ledger_nightly"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("source: nightly backup ", 0) == 0);
    CHECK(r.out.find("the WAL archive does not cover it: no base backup ended at or before") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_nightly") == ledger_nightly);
  }
  {  // a TIME in the future is refused
    ProcessResult r = Restore(env, {"ledger", "--at", "2999-01-01 00:00", "--target-db", "ledger_back"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("in the future") != std::string::npos);
    r = Restore(env, {"ledger", "--at", t1, "--source", "tape", "--target-db", "ledger_back"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--source takes wal or nightly") != std::string::npos);
  }
  {  // verify --pitr: the chain to the end of the archive, and each database at a point, with its RTO
    ProcessResult v = env.Run({"verify", "--pitr", "ledger", "payroll", "--at", t1}, 5min);
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
    CHECK(v.out.find("ok      (cluster)") != std::string::npos);
    CHECK(v.out.find("pg_amcheck found every database clean") != std::string::npos);
    CHECK(v.out.find("ok      ledger  at ") != std::string::npos);
    CHECK(v.out.find("ok      payroll  at ") != std::string::npos);
    CHECK(cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dhanbak_verify_%'") == "0");
    CHECK(ScratchContents(env).empty());
    auto status = nlohmann::json::parse(env.Run({"--json", "status", "--max-pitr-age", "1d"}).out);
    for (const auto& d : status["databases"]) {
      if (d["database"] != "ledger") continue;
      CHECK(d["last_pitr_verification"]["status"] == "ok");
      CHECK(d["last_pitr_verification"]["rto_seconds"].get<double>() > 0);
    }
    CHECK(status["pitr_chain"]["status"] == "ok");
    // A random point of the last week (here: the window's start, the base backup's end).
    ProcessResult random = env.Run({"--json", "verify", "--pitr", "payroll"}, 5min);
    INFO(random.out << random.err);
    CHECK(random.exit_code == 0);
    // A failed one is an alert in status.
    ProcessResult failed = env.Run({"verify", "--pitr", "ledger", "--at", t0}, 5min);
    CHECK(failed.exit_code == 1);
    CHECK(failed.out.find("FAILED  ledger") != std::string::npos);
    ProcessResult alert = env.Run({"status"});
    CHECK(alert.exit_code == 5);
    CHECK(alert.out.find("last point-in-time verification failed") != std::string::npos);
  }
  DropDatabases(cluster, restored);
}

TEST_CASE("a point-in-time restore killed or stopped in any phase leaves nothing behind; a gap is refused up front") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::vector<std::string> restored{"ledger_killed", "ledger_stopped", "ledger_gap"};
  Prepare(cluster, env, "pitr-kill-space", restored);
  REQUIRE(env.Run({"backup", "ledger"}, 5min).exit_code == 0);
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1, 'before the gap')");
  const std::string t1 = PointInTime(cluster);
  const std::string ledger_t1 = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);

  const std::vector<std::string> restore{"restore", "ledger", "--at", t1, "--target-db", "ledger_killed"};
  for (const char* point : {"pitr-scratch-claimed", "pitr-replayed", "pitr-copied", "restore-loading"}) {
    INFO(point);
    PausedCommand run(env, restore, point);
    run.WaitForPause();
    run.Signal(SIGKILL);
    CHECK(run.Finish().exit_code == 137);
    // Loading into the live cluster, the scratch server is already stopped and the database is
    // built under a temporary name: both are leftovers.
    const bool loading = std::string(point) == "restore-loading";
    CHECK(ScratchContents(env).size() == 1);
    CHECK_FALSE(DatabaseExists(cluster, "ledger_killed"));
    if (std::string(point) != "pitr-scratch-claimed" && !loading) CHECK(AnyProcessMentions(env.scratch_dir()));
    ProcessResult status = env.Run({"status"});
    CHECK(status.out.find("leftover: scratch directory " + env.scratch_dir() + "/pitr-") != std::string::npos);
    if (loading) CHECK(status.out.find("leftover: database dhanbak_restoring_") != std::string::npos);
    ProcessResult json = env.Run({"--json", "status"});
    CHECK(nlohmann::json::parse(json.out)["scratch_leftovers"].size() == 1);
    // The next run removes the leftover (and stops its server) before it starts.
    ProcessResult again = Restore(env, {"ledger", "--at", t1, "--target-db", "ledger_killed"});
    INFO(again.out << again.err);
    REQUIRE(again.exit_code == 0);
    CHECK(again.err.find("left by a point-in-time restore that was killed") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_killed") == ledger_t1);
    CHECK(ScratchContents(env).empty());
    CHECK_FALSE(AnyProcessMentions(env.scratch_dir()));
    cluster.Psql("postgres", "DROP DATABASE ledger_killed WITH (FORCE)");
  }
  for (const char* point : {"pitr-scratch-claimed", "pitr-replayed", "pitr-copied", "restore-loading"}) {
    INFO(point);
    PausedCommand run(env, {"restore", "ledger", "--at", t1, "--target-db", "ledger_stopped"}, point);
    run.WaitForPause();
    run.Signal(SIGTERM);
    ProcessResult r = run.Finish();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 143);
    CHECK(ScratchContents(env).empty());
    CHECK_FALSE(AnyProcessMentions(env.scratch_dir()));
    CHECK(cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'ledger_stopped%' OR "
                                   "datname LIKE 'dhanbak_restoring_%'") == "0");
  }

  {  // A scratch file system too small for the replay: refused before anything is written.
    fs::create_directories(env.scratch_dir());
    if (std::system(("mount -t tmpfs -o size=16m,mode=0700 dhanbak-test " + env.scratch_dir() + " 2>/dev/null").c_str()) ==
        0) {
      GiveToServerUser(env.scratch_dir());
      ProcessResult full = Restore(env, {"ledger", "--at", t1, "--target-db", "ledger_stopped"});
      INFO(full.out << full.err);
      CHECK(full.exit_code == 1);
      CHECK(full.err.find("free, but a replay of base backup") != std::string::npos);
      CHECK(full.err.find("nothing was written") != std::string::npos);
      CHECK(ScratchContents(env).empty());
      CHECK_FALSE(DatabaseExists(cluster, "ledger_stopped"));
      CHECK(std::system(("umount " + env.scratch_dir()).c_str()) == 0);
    } else {
      MESSAGE("cannot mount a tmpfs here: the full-scratch check is not exercised");
    }
  }

  // A segment lost from the archive: a time after it cannot be reached from the WAL.
  const std::string lost = WriteIntoLostSegment(env, cluster);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9003, 3, 'after the gap')");
  const std::string t_after = PointInTime(cluster);
  env.SwitchAndWaitArchived(cluster);
  ProcessResult refused = Restore(env, {"ledger", "--at", t_after, "--source", "wal", "--target-db", "ledger_gap"});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("missing segment " + lost) != std::string::npos);
  CHECK(refused.err.find("reachable") != std::string::npos);
  CHECK(ScratchContents(env).empty());
  CHECK_FALSE(DatabaseExists(cluster, "ledger_gap"));
  ProcessResult fallback = Restore(env, {"ledger", "--at", t_after, "--target-db", "ledger_gap"});
  INFO(fallback.out << fallback.err);
  REQUIRE(fallback.exit_code == 0);
  CHECK(fallback.out.rfind("source: nightly backup", 0) == 0);
  CHECK(fallback.out.find("missing segment " + lost) != std::string::npos);
  ProcessResult window = env.Run({"list", "ledger"});
  CHECK(window.out.find("no base backup after the archive's newest gap") != std::string::npos);
  DropDatabases(cluster, restored);
}

TEST_CASE("a replay restarts with the primary's limits when the WAL raised them after the base backup") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  Prepare(cluster, env, "pitr-limits-space", {"ledger_limits"});
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  const int raised = std::stoi(cluster.Psql("postgres", "SHOW max_connections")) + 23;
  cluster.Reconfigure("max_connections = " + std::to_string(raised));  // a new port: --target-conninfo below
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9100, 1, 'after the restart')");
  const std::string t = PointInTime(cluster);
  const std::string ledger_t = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);
  ProcessResult r = Restore(env, {"ledger", "--at", t, "--source", "wal", "--target-db", "ledger_limits",
                                  "--target-conninfo", cluster.Conninfo()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("the WAL raised max_connections to " + std::to_string(raised)) != std::string::npos);
  CHECK(Ledger(cluster, "ledger_limits") == ledger_t);
  CHECK(ScratchContents(env).empty());
  cluster.Psql("postgres", "DROP DATABASE ledger_limits WITH (FORCE)");
}

TEST_CASE("[pitr] scratch_keep: a second restore from the same base backup copies the kept files") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env("scratch_keep = 1\n");
  const std::vector<std::string> restored{"ledger_k1", "ledger_k2", "ledger_k3"};
  Prepare(cluster, env, "pitr-keep-space", restored);
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "UPDATE entries SET note = 'first' WHERE id < 100");
  const std::string t1 = PointInTime(cluster);
  const std::string ledger_t1 = Ledger(cluster, "ledger");
  cluster.Psql("ledger", "UPDATE entries SET note = 'second' WHERE id < 200");
  const std::string t2 = PointInTime(cluster);
  const std::string ledger_t2 = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);

  ProcessResult tl = env.Run({"timeline", "ledger", "--around", t1});
  INFO(tl.out << tl.err);
  CHECK(tl.exit_code == 0);
  CHECK(tl.out.find("public.entries 99 UPDATE") != std::string::npos);  // named from the live database

  ProcessResult first = Restore(env, {"ledger", "--at", t1, "--target-db", "ledger_k1"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.find("kept the restored base backup") != std::string::npos);
  CHECK(Ledger(cluster, "ledger_k1") == ledger_t1);
  std::vector<std::string> kept = ScratchContents(env);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].rfind("kept-", 0) == 0);

  ProcessResult second = Restore(env, {"ledger", "--at", t2, "--target-db", "ledger_k2"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.err.find("(kept by an earlier restore)") != std::string::npos);
  CHECK(Ledger(cluster, "ledger_k2") == ledger_t2);
  CHECK(ScratchContents(env) == kept);  // the run's own directory is gone, the kept copy stays

  // A newer base backup: its copy is kept, the older one goes (scratch_keep = 1).
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "UPDATE entries SET note = 'third' WHERE id < 300");
  const std::string t3 = PointInTime(cluster);
  const std::string ledger_t3 = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);
  ProcessResult third = Restore(env, {"ledger", "--at", t3, "--target-db", "ledger_k3"});
  INFO(third.out << third.err);
  REQUIRE(third.exit_code == 0);
  CHECK(Ledger(cluster, "ledger_k3") == ledger_t3);
  std::vector<std::string> now_kept = ScratchContents(env);
  REQUIRE(now_kept.size() == 1);
  CHECK(now_kept[0] != kept[0]);
  DropDatabases(cluster, restored);
}

}  // namespace pitr_restore_test
