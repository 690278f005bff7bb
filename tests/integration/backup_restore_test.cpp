// The end-to-end promise: databases shaped like Dhanman's, backed up with the real binary and
// restored under another name, are the same databases — schema, every table's rows, sequences,
// database properties — and a second night's backup stores only what changed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/db_compare.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace backup_restore_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {

const std::vector<std::pair<std::string, std::string>> kDatabases = {
    {"prod-dhanman-sales", "sales"},
    {"prod-dhanman-payroll", "payroll"},
    {"prod-dhanman-common", "common"},
};

std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (const auto& [name, kind] : kDatabases) names.push_back(name);
  return names;
}

nlohmann::json BackupsOf(const nlohmann::json& backups, const std::string& db) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : backups)
    if (b["database"] == db) out.push_back(b);
  return out;
}

void RequireSame(PgCluster& cluster, const std::string& source, const std::string& restored) {
  CompareResult cmp = CompareDatabases(cluster, source, restored);
  INFO("differences between " << source << " and " << restored << ":\n" << cmp.Summary());
  CHECK(cmp.equal);
}

}  // namespace

TEST_CASE("backup, list and restore sample Dhanman databases; a second backup dedups") {
  PgCluster& cluster = SharedCluster();
  for (const auto& [name, kind] : kDatabases) GenerateSampleDatabase(cluster, name, kind, "0.002");
  DhanbakEnv env(Names());

  env.RunOk({"init"});
  ProcessResult backup = env.RunOk({"backup"});
  for (const auto& name : Names()) CHECK(!LoggedBackupId(backup.err, name).empty());

  // list (text): one ok line per database.
  ProcessResult list = env.RunOk({"list"});
  for (const auto& name : Names()) {
    CAPTURE(name);
    CHECK(list.out.find(name) != std::string::npos);
  }
  CHECK(list.out.find("failed") == std::string::npos);

  // list --json: one ok backup per database whose row count is the source's.
  nlohmann::json backups = env.ListJson();
  REQUIRE(backups.size() == kDatabases.size());
  for (const auto& name : Names()) {
    CAPTURE(name);
    nlohmann::json mine = BackupsOf(backups, name);
    REQUIRE(mine.size() == 1);
    const auto& b = mine[0];
    CHECK(b["status"] == "ok");
    CHECK(b["backup_id"] == LoggedBackupId(backup.err, name));
    CHECK(b["rows"].get<int64_t>() == TotalRows(cluster, name));
    CHECK(b["rows"].get<int64_t>() > 0);
    CHECK(b["logical_bytes"].get<int64_t>() > 0);
    CHECK(b["stored_bytes"].get<int64_t>() > 0);
    CHECK(!b["snapshot_time"].get<std::string>().empty());
    // list DB filters.
    nlohmann::json only = env.ListJson(name);
    REQUIRE(only.size() == 1);
    CHECK(only[0]["backup_id"] == b["backup_id"]);
  }

  // Restore each one under another name and compare everything.
  for (const auto& name : Names()) {
    CAPTURE(name);
    const std::string target = name + "_restored";
    cluster.DropDatabase(target);
    ProcessResult r = env.RunOk({"restore", name, "--at", "latest", "--target-db", target});
    CHECK(r.out.find("DIFFERS") == std::string::npos);
    CHECK(r.out.find("verified") != std::string::npos);
    REQUIRE(cluster.DatabaseExists(target));
    RequireSame(cluster, name, target);
  }

  // Restoring into an existing database is refused and leaves it untouched.
  const std::string occupied = "prod-dhanman-sales_occupied";
  cluster.DropDatabase(occupied);
  cluster.CreateDatabase(occupied);
  cluster.Psql(occupied, "CREATE TABLE keep_me(v text); INSERT INTO keep_me VALUES ('precious')");
  ProcessResult refused = env.Run({"restore", "prod-dhanman-sales", "--at", "latest", "--target-db", occupied});
  CHECK(refused.exit_code != 0);
  CHECK(refused.exit_code != 3);
  CHECK_MESSAGE(refused.err.find("already exists") != std::string::npos, refused.err);
  CHECK(cluster.DatabaseExists(occupied));
  CHECK(cluster.Psql(occupied, "SELECT string_agg(v, ',') FROM keep_me") == "precious");
  CHECK(cluster.Psql(occupied, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "1");

  // Second night: a few new rows in one table. Unchanged tables cost nothing.
  const std::string sales = "prod-dhanman-sales";
  cluster.Psql(sales,
               "INSERT INTO audit_log (occurred_at, entity, entity_id, action, request_id) "
               "SELECT now(), 'invoice', g::text, 'INSERT', gen_random_uuid() FROM generate_series(1, 50) g");
  env.RunOk({"backup", sales});
  nlohmann::json sales_backups = env.ListJson(sales);
  REQUIRE(sales_backups.size() == 2);
  const auto& second = sales_backups[0];  // newest first
  const auto& first = sales_backups[1];
  CHECK(second["status"] == "ok");
  CHECK(second["rows"].get<int64_t>() == first["rows"].get<int64_t>() + 50);
  const int64_t first_stored = first["stored_bytes"].get<int64_t>();
  const int64_t second_stored = second["stored_bytes"].get<int64_t>();
  CAPTURE(first_stored);
  CAPTURE(second_stored);
  MESSAGE("stored bytes: first backup " << first_stored << ", second " << second_stored);
  CHECK(second_stored < first_stored / 3);
  // Logical size is the whole database again: dedup is in storage, not in what is backed up.
  CHECK(second["logical_bytes"].get<int64_t>() >= first["logical_bytes"].get<int64_t>());

  // The incremental backup restores to the new state.
  const std::string target2 = sales + "_restored2";
  cluster.DropDatabase(target2);
  env.RunOk({"restore", sales, "--at", "latest", "--target-db", target2});
  RequireSame(cluster, sales, target2);
  // And the first backup still restores to the old state (its chunks were not disturbed).
  const std::string target1 = sales + "_restored1";
  cluster.DropDatabase(target1);
  env.RunOk({"restore", sales, "--backup", first["backup_id"].get<std::string>(), "--target-db", target1});
  CHECK(std::stoll(cluster.Psql(target1, "SELECT count(*) FROM audit_log")) + 50 ==
        std::stoll(cluster.Psql(sales, "SELECT count(*) FROM audit_log")));
}

}  // namespace backup_restore_test
