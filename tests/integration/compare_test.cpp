// Tests of the test support itself: child processes, the throwaway cluster, and the database
// checker that every fidelity test relies on (it must catch what a broken restore would break).
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"

using namespace dhanbak::test;
using namespace std::chrono_literals;

TEST_CASE("RunProcess captures stdout, stderr, exit code and stdin") {
  ProcessOptions options;
  options.stdin_text = "hello\n";
  ProcessResult r = RunProcess({"sh", "-c", "cat; echo oops >&2; exit 3"}, options);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "hello\n");
  CHECK(r.err == "oops\n");
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("RunProcess does not deadlock on large output on both pipes and large stdin") {
  ProcessOptions options;
  options.stdin_text = std::string(5 << 20, 'x');
  ProcessResult r = RunProcess(
      {"sh", "-c", "head -c 3000000 /dev/zero >&2; cat; head -c 3000000 /dev/zero >&2"}, options);
  CHECK(r.exit_code == 0);
  CHECK(r.out.size() == (5u << 20));
  CHECK(r.err.size() == 6000000u);
}

TEST_CASE("RunProcess passes argv verbatim, adds environment, reports signals and timeouts") {
  ProcessOptions options;
  options.env = {{"DHANBAK_TEST_VAR", "a b'c"}};
  CHECK(RunOrThrow({"sh", "-c", "printf '%s|%s' \"$1\" \"$DHANBAK_TEST_VAR\"", "sh", "x y $z"}, options) ==
        "x y $z|a b'c");
  CHECK(RunProcess({"sh", "-c", "kill -TERM $$"}).exit_code == 128 + SIGTERM);
  ProcessOptions quick;
  quick.timeout = 300ms;
  ProcessResult r = RunProcess({"sleep", "30"}, quick);
  CHECK(r.timed_out);
  CHECK(r.exit_code == 128 + SIGKILL);
  CHECK_THROWS(RunOrThrow({"false"}));
  CHECK_THROWS(RunProcess({"/nonexistent/program"}));
}

TEST_CASE("BackgroundProcess can be waited for and signalled") {
  BackgroundProcess p({"sh", "-c", "echo started; trap 'echo got-term; exit 7' TERM; while :; do sleep 0.05; done"});
  REQUIRE(p.WaitForOutput("started", 10s));
  CHECK(p.Running());
  p.Signal(SIGTERM);
  ProcessResult r = p.Wait(10s);
  CHECK(r.exit_code == 7);
  CHECK(r.out == "started\ngot-term\n");
  CHECK_FALSE(p.Running());
}

TEST_CASE("the shared cluster runs SQL and manages databases") {
  PgCluster& cluster = SharedCluster();
  CHECK(cluster.port() > 0);
  CHECK(cluster.Psql("postgres", "SELECT 1; SELECT 'a', 'b'") == "1\na|b");
  CHECK(cluster.Psql("postgres", "SHOW server_version_num").substr(0, 2) == "15");
  const std::string name = "odd \"name\" db";
  cluster.DropDatabase(name);
  CHECK_FALSE(cluster.DatabaseExists(name));
  cluster.CreateDatabase(name, "TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C'");
  CHECK(cluster.DatabaseExists(name));
  CHECK(cluster.Psql(name, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()") ==
        "LATIN1");
  CHECK(cluster.Psql(name, "SELECT 'é'") == "é");  // client encoding is UTF8, converted by the server
  CHECK_THROWS_WITH_AS(cluster.Psql(name, "SELECT * FROM no_such_table"), doctest::Contains("no_such_table"),
                       std::runtime_error);
  ProcessOptions env;
  env.env = cluster.PgEnv(name);
  CHECK(RunOrThrow({cluster.Tool("psql"), "-XAtc", "SELECT current_database()"}, env) == name + "\n");
  cluster.DropDatabase(name);
  CHECK_FALSE(cluster.DatabaseExists(name));
}
