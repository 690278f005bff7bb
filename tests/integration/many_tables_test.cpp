// A database with 2,400 tables (schema and table names of PostgreSQL's longest, 63 bytes), backed
// up with a 1 MiB stack limit, so that one pg_dump pattern per table is more than the 256 KiB of
// arguments that limit allows (a quarter of it, as the usual 2 MiB is of the usual 8 MiB): dhanbak
// must raise its limit for pg_dump, as it must at 16,000 tables under the usual limit. A server
// whose lock table cannot hold the backup's locks fails that database early with a message saying
// what to raise (the other databases of the run are backed up); a big enough one backs it up and
// restores every table.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace many_tables_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {

constexpr int kTables = 2400;
// The soft stack limit dhanbak runs with here; execve's room for arguments is a quarter of it.
constexpr rlim_t kStackLimit = 1024 * 1024;

// Names of the longest length PostgreSQL keeps (NAMEDATALEN - 1).
constexpr size_t kLongestName = 63;
std::string Longest(std::string prefix) {
  prefix.resize(kLongestName, 'x');
  return prefix;
}
const std::string kSchema = Longest("schema_with_a_long_name_for_many_tables_");
const std::string kFirstTable = Longest("table_number_000001_");

// What the backup's pg_dump takes of execve's room for each table: the argument
// --exclude-table-data="schema"."table" with its NUL, and its pointer in argv.
constexpr size_t kArgvBytesPerTable = sizeof("--exclude-table-data=") - 1 + 2 * (kLongestName + 2) + 1 + 1 + sizeof(char*);
static_assert(kTables * kArgvBytesPerTable > kStackLimit / 4 * 6 / 5,
              "pg_dump's arguments must exceed the room a 1 MiB stack limit leaves them by 20%");

// Lowers this process's soft stack limit (which the dhanbak it starts inherits) for its lifetime.
class SmallStackLimit {
 public:
  SmallStackLimit() {
    REQUIRE(::getrlimit(RLIMIT_STACK, &saved_) == 0);
    rlimit lowered = saved_;
    lowered.rlim_cur = kStackLimit;
    REQUIRE(::setrlimit(RLIMIT_STACK, &lowered) == 0);
  }
  ~SmallStackLimit() { ::setrlimit(RLIMIT_STACK, &saved_); }
  SmallStackLimit(const SmallStackLimit&) = delete;
  SmallStackLimit& operator=(const SmallStackLimit&) = delete;

 private:
  rlimit saved_{};
};

// Tables 2..kTables have no column that needs a TOAST table (a third of the relations to create,
// dump and restore); table 1 holds the row checked after the restore.
std::string TableSql(int from, int to) {
  return "DO $$ BEGIN FOR i IN " + std::to_string(from) + " .. " + std::to_string(to) +
         " LOOP EXECUTE format('CREATE TABLE %I.%I (id int)', '" + kSchema +
         "', rpad('table_number_' || lpad(i::text, 6, '0') || '_', " + std::to_string(kLongestName) +
         ", 'x')); END LOOP; END $$;";
}

}  // namespace

TEST_CASE("2,400 tables under a 1 MiB stack limit: too small a lock table fails early and clearly; a big enough one backs up and restores all") {
  PgCluster& cluster = SharedCluster();
  cluster.DropDatabase("many_db");
  cluster.CreateDatabase("many_db");
  cluster.DropDatabase("few_db");
  cluster.CreateDatabase("few_db");
  cluster.Psql("few_db", "CREATE TABLE t AS SELECT 1 AS id");
  cluster.Psql("many_db", "CREATE SCHEMA " + kSchema);
  const std::string first = "\"" + kSchema + "\".\"" + kFirstTable + "\"";
  cluster.Psql("many_db", "CREATE TABLE " + first + " (id int, v text); INSERT INTO " + first + " VALUES (1, 'first')");
  for (int from = 2; from <= kTables; from += 1000) cluster.Psql("many_db", TableSql(from, std::min(kTables, from + 999)));

  {
    INFO("a lock table too small for the backup");
    cluster.Reconfigure("max_locks_per_transaction = 32");
    DhanbakEnv env({"many_db", "few_db"});
    env.InitFast();
    ProcessResult r = env.Run({"backup"});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("database many_db has " + std::to_string(kTables) + " tables") != std::string::npos);
    CHECK(r.err.find("ALTER SYSTEM SET max_locks_per_transaction = ") != std::string::npos);
    CHECK(r.err.find("out of shared memory") == std::string::npos);
    auto backups = env.ListJson();
    REQUIRE(backups.size() == 2);
    for (const auto& b : backups) CHECK(b["status"] == (b["database"] == "few_db" ? "ok" : "failed"));
  }
  {
    INFO("a lock table that holds it");
    cluster.Reconfigure("max_locks_per_transaction = 512");
    DhanbakEnv env({"many_db"});
    env.InitFast();
    {
      SmallStackLimit small_stack;
      env.RunOk({"backup"});
    }
    cluster.DropDatabase("many_restored");
    env.RunOk({"restore", "many_db", "--at", "latest", "--target-db", "many_restored"});
    CHECK(cluster.Psql("many_restored", "SELECT count(*) FROM pg_tables WHERE schemaname = '" + kSchema + "'") ==
          std::to_string(kTables));
    CHECK(cluster.Psql("many_restored", "SELECT v FROM " + first) == "first");
    cluster.DropDatabase("many_restored");
  }
  cluster.Reconfigure("max_locks_per_transaction = 256");
  cluster.DropDatabase("many_db");
  cluster.DropDatabase("few_db");
}

}  // namespace many_tables_test
