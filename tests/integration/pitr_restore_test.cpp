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

// TIME (UTC ISO) as wall-clock time in `zone`, as the server computes it.
std::string LocalWallClock(const PgCluster& c, const std::string& utc_iso, const std::string& zone) {
  return c.Psql("postgres", "SELECT to_char(('" + utc_iso + "'::timestamptz) AT TIME ZONE '" + zone +
                                "', 'YYYY-MM-DD HH24:MI:SS.US')");
}

}  // namespace

TEST_CASE("restore DB --at TIME brings one database back from the WAL archive, the others untouched") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::vector<std::string> restored{"ledger_back", "payroll_t2", "ledger_tz", "ledger_offset", "ledger_nightly",
                                          "ledger_t3"};
  PreparePitr(cluster, env, "pitr-space", restored);

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
    ProcessResult r = PitrRestore(env, {"ledger", "--at", before_delete, "--target-db", "ledger_back"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Ledger(cluster, "ledger_back") == ledger_t1);
    cluster.Psql("postgres", "DROP DATABASE ledger_back WITH (FORCE)");
  }
  {  // beside the live database, at the second before the DELETE
    ProcessResult r = PitrRestore(env, {"ledger", "--at", t1, "--target-db", "ledger_back"});
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
    ProcessResult r = PitrRestore(env, {"--json", "payroll", "--at", t2, "--replace", "--yes"});
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
    ProcessResult r = PitrRestore(env, {"ledger", "--at", t3, "--source", "wal", "--target-db", "ledger_t3", "--table",
                                    "public.entries"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("--source wal: base backup") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_t3") == ledger_t3);
    CHECK(ledger_t3.rfind("1:", 0) == 0);
  }
  {  // a TIME without an offset is local time in TZ; with an offset, that offset
    const std::string local = LocalWallClock(cluster, t1, "America/New_York");
    ProcessResult r = PitrRestore(env, {"ledger", "--at", local, "--target-db", "ledger_tz"}, "America/New_York");
    INFO(local << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Ledger(cluster, "ledger_tz") == ledger_t1);
    const std::string offset = LocalWallClock(cluster, t1, "Asia/Kolkata") + "+05:30";
    r = PitrRestore(env, {"ledger", "--at", offset, "--target-db", "ledger_offset"}, "America/New_York");
    INFO(offset << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Ledger(cluster, "ledger_offset") == ledger_t1);
  }
  {  // before the first base backup: the nightly backup, or a refusal with --source wal
    ProcessResult r = PitrRestore(env, {"ledger", "--at", t0, "--source", "wal", "--target-db", "ledger_nightly"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no base backup ended at or before") != std::string::npos);
    CHECK(r.err.find("nothing was restored") != std::string::npos);
    CHECK_FALSE(HasDatabase(cluster, "ledger_nightly"));
    r = PitrRestore(env, {"ledger", "--at", t0, "--target-db", "ledger_nightly"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("source: nightly backup ", 0) == 0);
    CHECK(r.out.find("the WAL archive does not cover it: no base backup ended at or before") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_nightly") == ledger_nightly);
  }
  {  // a TIME in the future is refused
    ProcessResult r = PitrRestore(env, {"ledger", "--at", "2999-01-01 00:00", "--target-db", "ledger_back"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("in the future") != std::string::npos);
    r = PitrRestore(env, {"ledger", "--at", t1, "--source", "tape", "--target-db", "ledger_back"});
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

}  // namespace pitr_restore_test
