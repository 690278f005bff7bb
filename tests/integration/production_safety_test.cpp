// Safe beside production (issue 8):
//  - a session that queues for an exclusive lock on a table the backup has not copied yet
//    (ALTER TABLE) must not be blocked for the rest of the backup, nor block the backup: the
//    worker's NOWAIT lock fails that database at once, naming the table and the session, the
//    DDL proceeds, and the next database of the run is backed up;
//  - a failing database does not fail the ones after it.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "support/dhanbak_workdir.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace production_safety_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;

namespace {

bool Contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("a DDL queued behind the backup's locks fails that database at once; the DDL and the next database go on") {
  PgCluster& cluster = SharedCluster();
  cluster.CreateDatabase("busy");
  cluster.Psql("busy", R"sql(
    CREATE TABLE big (id int, payload text);
    INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 500000) g;
    CREATE TABLE staging (id int);
    INSERT INTO staging VALUES (1), (2);)sql");
  cluster.CreateDatabase("after_busy");
  cluster.Psql("after_busy", "CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
  DhanbakWorkdir work(cluster, WorkdirOptions{{"busy", "after_busy"}, 1, ""});
  work.RunOk({"init"});

  BackgroundProcess backup(work.Argv({"backup", "--jobs", "1"}));
  // The leader has locked every table (staging included) once its ACCESS SHARE lock shows;
  // the single worker copies the big table first, so staging is not copied yet.
  bool locked = false;
  for (int i = 0; i < 1500 && !locked; ++i) {
    std::this_thread::sleep_for(10ms);
    locked = cluster.Psql("busy",
                          "SELECT count(*) FROM pg_locks WHERE relation = 'staging'::regclass "
                          "AND mode = 'AccessShareLock' AND granted") != "0";
  }
  REQUIRE_MESSAGE(locked, backup.Stderr());
  auto ddl_start = std::chrono::steady_clock::now();
  BackgroundProcess ddl({cluster.Tool("psql"), "-X", "-v", "ON_ERROR_STOP=1", "-d", cluster.Conninfo("busy"), "-c",
                         "ALTER TABLE staging ADD COLUMN added int"});

  ProcessResult ddl_result = ddl.Wait(120s);
  auto ddl_took = std::chrono::steady_clock::now() - ddl_start;
  CHECK_MESSAGE(ddl_result.exit_code == 0, ddl_result.err);
  ProcessResult b = backup.Wait(120s);
  INFO(b.err);
  CHECK(b.exit_code == 1);
  CHECK(Contains(b.err, "table public.staging is wanted for an exclusive lock by session"));
  CHECK(Contains(b.err, "ALTER TABLE staging ADD COLUMN added int"));
  CHECK(Contains(b.err, "backed up after_busy"));  // the run went on
  // The DDL waited for the failing backup at most, never for a whole backup run.
  CHECK(ddl_took < 60s);
  CHECK(cluster.Psql("busy", "SELECT count(*) FROM information_schema.columns WHERE table_name = 'staging'") == "2");
  auto good = work.GoodBackups("after_busy");
  CHECK(good.size() == 1);
  CHECK(work.GoodBackups("busy").empty());
  // Once the statement is done, the next run backs the database up.
  work.RunOk({"backup", "busy"});
  CHECK(work.GoodBackups("busy").size() == 1);
  cluster.DropDatabase("busy");
  cluster.DropDatabase("after_busy");
}

}  // namespace production_safety_test
