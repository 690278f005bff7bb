// dhanbak without a superuser: the roles of docs/roles.md, created with exactly those GRANTs,
// back up (pg_read_all_data), restore (CREATEDB and membership in the owning roles) and take the
// restored copy's place (--replace); the result is the same database.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "support/db_compare.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"
#include "support/wal_archive_env.hpp"

namespace least_privilege_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {

// `env`'s configuration connecting as `role` instead of the superuser.
void ConnectAs(const DhanbakEnv& env, const std::string& role) {
  std::string text;
  {
    std::ifstream in(env.config_path());
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string from = "user=postgres";
  REQUIRE(text.find(from) != std::string::npos);
  text.replace(text.find(from), from.size(), "user=" + role);
  std::ofstream(env.config_path(), std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("least privilege: backup with pg_read_all_data, restore with CREATEDB and the owning role") {
  PgCluster& cluster = SharedCluster();
  cluster.Psql("postgres",
               "DROP DATABASE IF EXISTS lp_ledger WITH (FORCE); DROP DATABASE IF EXISTS lp_copy WITH (FORCE);"
               "DROP ROLE IF EXISTS lp_backup; DROP ROLE IF EXISTS lp_restore; DROP ROLE IF EXISTS lp_app;"
               "CREATE ROLE lp_app LOGIN;"
               // docs/roles.md: the backup role and the restore role.
               "CREATE ROLE lp_backup LOGIN; GRANT pg_read_all_data TO lp_backup;"
               "CREATE ROLE lp_restore LOGIN CREATEDB; GRANT lp_app TO lp_restore;"
               "GRANT pg_signal_backend TO lp_restore;"
               "CREATE DATABASE lp_ledger OWNER lp_app");
  cluster.Psql("lp_ledger", "SET ROLE lp_app; CREATE SCHEMA books; "
                            "CREATE TABLE books.entries(id bigint PRIMARY KEY, amount numeric(12,2), note text);"
                            "INSERT INTO books.entries SELECT g, g * 1.5, md5(g::text) FROM generate_series(1, 5000) g;"
                            "CREATE SEQUENCE books.seq; SELECT setval('books.seq', 42);"
                            "CREATE VIEW books.big AS SELECT * FROM books.entries WHERE amount > 100");
  DhanbakEnv env({"lp_ledger"});
  env.InitFast();

  ConnectAs(env, "lp_backup");
  ProcessResult backup = env.Run({"backup"});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  // pg_read_all_data reads pg_authid too: the globals (roles with their password hashes) are
  // captured whole, with no fallback to --no-role-passwords.
  CHECK(backup.err.find("warning") == std::string::npos);

  {  // from the backup role to the restore role
    std::ifstream in(env.config_path());
    std::string text(std::istreambuf_iterator<char>(in), {});
    text.replace(text.find("user=lp_backup"), std::string("user=lp_backup").size(), "user=lp_restore");
    std::ofstream(env.config_path(), std::ios::trunc) << text;
  }
  ProcessResult restored = env.Run({"restore", "lp_ledger", "--target-db", "lp_copy"});
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  CompareResult same = CompareDatabases(cluster, "lp_ledger", "lp_copy");
  INFO(same.Summary());
  CHECK(same.equal);
  CHECK(cluster.Psql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'lp_copy'") == "lp_app");
  CHECK(cluster.Psql("lp_copy", "SELECT tableowner FROM pg_tables WHERE tablename = 'entries'") == "lp_app");

  ProcessResult replaced = env.Run({"restore", "lp_ledger", "--replace", "--yes", "--terminate-connections"});
  INFO(replaced.out << replaced.err);
  CHECK(replaced.exit_code == 0);
  CHECK(cluster.Psql("lp_ledger", "SELECT count(*) FROM books.entries") == "5000");
  CHECK(cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dhanbak_%'") == "0");
  cluster.Psql("postgres", "DROP DATABASE IF EXISTS lp_copy WITH (FORCE); DROP DATABASE IF EXISTS lp_ledger WITH (FORCE)");
}

TEST_CASE("least privilege: base-backup with a REPLICATION role (no superuser)") {
  PgCluster& cluster = SharedCluster();
  cluster.Psql("postgres", "DROP ROLE IF EXISTS lp_replication; CREATE ROLE lp_replication LOGIN REPLICATION");
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  std::ofstream(env.config_path(), std::ios::app)
      << "[postgres]\nconninfo = \"host=127.0.0.1 port=" << cluster.port() << " user=lp_replication\"\n";
  ProcessResult base = env.Run({"base-backup"}, std::chrono::minutes(5));
  INFO(base.out << base.err);
  CHECK(base.exit_code == 0);
  CHECK(base.out.find("base backup ") != std::string::npos);
  ProcessResult checked = env.Run({"check"}, std::chrono::minutes(5));
  INFO(checked.out << checked.err);
  CHECK(checked.out.find("base backup") != std::string::npos);
}

}  // namespace least_privilege_test
