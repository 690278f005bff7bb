// The restore engine shared by `restore`, `verify` and (for the schema) `export`: rebuilds one
// backup into a new database and checks it. Steps, in order:
//   1. download the schema archive (pg_dump -Fc, no table data) into a private temp dir;
//   2. CREATE DATABASE with the original encoding / locale / provider;
//   3. pg_restore --section=pre-data;
//   4. COPY FROM STDIN of every table, `jobs` at a time, while later chunks download;
//      each table commits only after its stream's SHA-256 matched the manifest;
//   5. pg_restore --section=data (sequence values, large objects, extension config rows);
//   6. pg_restore --section=post-data --jobs (indexes, constraints, triggers, matview refresh);
//   7. database-level properties (owner, ACL, comment, settings);
//   8. verification: every table re-read and hashed; the schema compared with the archive.
// Any failure (including SIGTERM) drops the half-built database before the error propagates.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "dhanbak/format/manifest.hpp"
#include "pg/connection.hpp"

namespace dhanbak::command {

struct RestoreSpec {
  std::string conninfo;  // target server
  std::string target;    // new database name
  int jobs = 2;
  bool verify = true;
  // "schema.table" names; empty = every table. With a filter, foreign keys and matview
  // refreshes are left out (the rows they depend on are not restored).
  std::set<std::string> tables;
};

struct TableVerdict {
  std::string table;
  int64_t expected_rows = 0, actual_rows = 0;
  bool ok = false;
  std::string detail;
};

struct RestoreResult {
  std::vector<TableVerdict> verdicts;
  bool verified = false;
  bool schema_checked = false;
  std::string schema_difference;  // empty when equal or not checked
  // Wall-clock seconds of each phase, in order: where an incident restore spends its time.
  std::vector<std::pair<std::string, double>> phases;
  bool ok() const;
};

// Throws Error(kVerification) (after dropping the target) when verification finds a difference;
// `result` then holds the verdicts.
void RestoreInto(Context& ctx, const format::Manifest& manifest, const RestoreSpec& spec, RestoreResult& result);

// A connection to the server's "postgres" database, or "template1" where that one is missing.
std::unique_ptr<pg::PgConnection> AdminConnection(const std::string& conninfo);

// Drops a database dhanbak built (a restore's, a verification's), its subscriptions first, each
// detached from its replication slot; WITH (FORCE) when `force`. Throws on failure.
void DropBuiltDatabase(pg::PgConnection& admin, const std::string& conninfo, const std::string& name, bool force);

// DropBuiltDatabase with FORCE; logs instead of throwing.
void DropDatabaseQuietly(const std::string& conninfo, const std::string& name);

}  // namespace dhanbak::command
