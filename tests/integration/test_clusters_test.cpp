// The harness's clusters are copies of one that initdb made (support/cluster_template.hpp). Each
// must still be a cluster of its own: dhanbak tells clusters apart by their system identifier (a
// repository refuses another cluster's WAL), and several tests rely on that. And PgCluster::Psql
// runs single statements in-process (support/in_process_sql.hpp): what the tests read back must be
// what psql prints.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <optional>
#include <string>
#include <vector>

#include "support/in_process_sql.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace test_clusters_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

TEST_CASE("test clusters copied from one template each have a system identifier of their own") {
  const std::string query = "select system_identifier from pg_control_system()";
  PgCluster first;
  PgCluster second;
  const std::string first_id = first.Psql("postgres", query);
  const std::string second_id = second.Psql("postgres", query);
  CHECK(first_id != second_id);
  CHECK(first_id.size() >= 18);  // the time in the high half, as initdb's: a 19- or 20-digit number
  // The server accepted the copied WAL under the new identifier (the startup reads its checkpoint
  // from it); it must also replay it after a crash: stop with no checkpoint, start again.
  first.Psql("postgres", "set synchronous_commit = on; create table t as select 1 as x");  // flushed: replayed
  RunOrThrow(AsServerUser({first.Tool("pg_ctl"), "-D", first.data_dir(), "-m", "immediate", "-w", "stop"}));
  first.Reconfigure("# started again after an immediate stop");  // its own stop finds nothing to stop
  CHECK(first.Psql("postgres", query) == first_id);
  CHECK(first.Psql("postgres", "select x from t") == "1");
}

TEST_CASE("a statement Psql runs in-process prints and fails as psql -At does; anything else goes to psql") {
  CHECK(IsSingleStatement("select 1"));
  CHECK(IsSingleStatement("  SELECT 1 ;  -- done\n /* and /* nested */ here */ "));
  CHECK(IsSingleStatement("select 'a;b''c', \"d;e\", $$f;g$$, $t$h;$$;$t$, x$y /* ; */ from t"));
  CHECK(IsSingleStatement("CREATE DATABASE \"x\" STRATEGY FILE_COPY;"));
  CHECK_FALSE(IsSingleStatement("select 1; select 2"));
  CHECK_FALSE(IsSingleStatement("insert into t values (1);\ninsert into t values (2);"));
  CHECK_FALSE(IsSingleStatement("\\set x 1"));
  CHECK_FALSE(IsSingleStatement("select E'a\\nb'"));
  CHECK_FALSE(IsSingleStatement("COPY t TO STDOUT"));
  CHECK_FALSE(IsSingleStatement(" /* c */ copy t from stdin"));
  CHECK_FALSE(IsSingleStatement("select 'unterminated"));
  CHECK_FALSE(IsSingleStatement("select $q$unterminated"));
  CHECK_FALSE(IsSingleStatement("select $1"));
  CHECK_FALSE(IsSingleStatement("select 1 /* unterminated"));

  // What psql's children never see must not be seen here either (this file runs no dhanbak).
  for (const std::string& name : PsqlChildUnsetEnvironment()) ::unsetenv(name.c_str());
  PgCluster& cluster = SharedCluster();
  auto psql = [&](const std::string& sql) { return cluster.PsqlProcess("postgres", sql); };
  const std::vector<std::string> statements = {
      "select 1",
      "select null::int, '', 'a|b', 'two\nlines', 'é😂', true, 1.50::numeric, '2026-12-03 10:00+05:30'::timestamptz",
      "select g, t from generate_series(1, 3) g, (values ('x'), (null)) v(t) order by 1, 2",
      "select from generate_series(1, 2)",
      "select 1 where false",
      "create temporary table in_process_t (x int)",
      "select current_setting('application_name'), current_setting('client_encoding')",
  };
  for (const std::string& sql : statements) {
    CAPTURE(sql);
    std::optional<InProcessSqlResult> in = TryRunInProcess(cluster.Conninfo("postgres"), sql);
    REQUIRE(in.has_value());
    CHECK(in->ok);
    ProcessResult expected = psql(sql);
    REQUIRE(expected.exit_code == 0);
    CHECK(in->out == expected.out);
  }
  CHECK_FALSE(TryRunInProcess(cluster.Conninfo("postgres"), "select 1; select 2").has_value());
  ::setenv("PGTZ", "Pacific/Chatham", 1);  // the psql child would run without it: so must this
  CHECK_FALSE(TryRunInProcess(cluster.Conninfo("postgres"), "select now()").has_value());
  ::unsetenv("PGTZ");

  const std::string bad = "select * from in_process_missing";
  std::optional<InProcessSqlResult> failed = TryRunInProcess(cluster.Conninfo("postgres"), bad);
  REQUIRE(failed.has_value());
  CHECK_FALSE(failed->ok);
  CHECK_FALSE(failed->connection_failed);
  ProcessResult psql_failed = psql(bad);
  CHECK(psql_failed.exit_code == 3);
  CHECK(psql_failed.err.find("relation \"in_process_missing\" does not exist") != std::string::npos);
  CHECK_MESSAGE(failed->err == psql_failed.err, failed->err, " against psql's ", psql_failed.err);
  CHECK_THROWS_WITH_AS(cluster.Psql("postgres", bad), doctest::Contains("(exit 3): ERROR:  relation \"in_process_missing\""),
                       std::runtime_error);

  std::optional<InProcessSqlResult> refused =
      TryRunInProcess("host=127.0.0.1 port=" + std::to_string(FreeTcpPort()) + " user=postgres", "select 1");
  REQUIRE(refused.has_value());
  CHECK_FALSE(refused->ok);
  CHECK(refused->connection_failed);
  CHECK(refused->err.find("Connection refused") != std::string::npos);
}

}  // namespace test_clusters_test
