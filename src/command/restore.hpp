// `dhanbak restore DB --at TIME|--backup ID --target-db NAME`: creates the target database
// with the original's properties, replays pg_dump's pre-data, loads every table with COPY FROM
// STDIN while later chunks download, replays the rest (sequences, large objects, indexes,
// constraints, triggers, matview refreshes), then re-reads every table and compares its
// SHA-256 and row count with the manifest. On any failure the half-built target is dropped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "dhanbak/format/manifest.hpp"

namespace dhanbak::command {

struct RestoreOptions {
  std::string database;
  std::optional<std::string> at;         // TIME
  std::optional<std::string> backup_id;
  std::optional<std::string> target_db;
  std::optional<std::string> target_conninfo;
  std::optional<int> jobs;
  bool verify = true;
};

int RunRestore(Context& ctx, const RestoreOptions& options);

// Picks the backup `at`/`backup_id` names (newest good at or before TIME, `latest` by default).
// Throws Error(kNotFound) with the earliest available backup in the message.
catalog::BackupRecord SelectBackup(Context& ctx, const std::string& database, const std::optional<std::string>& at,
                                   const std::optional<std::string>& backup_id);

struct TableVerdict {
  std::string table;
  int64_t expected_rows = 0, actual_rows = 0;
  bool ok = false;
  std::string detail;
};

struct RestoreResult {
  std::vector<TableVerdict> verdicts;
  bool verified = false;
  bool ok = true;
};

// Restores `manifest` into a new database `target` on `conninfo`. Drops the target on failure.
// Throws Error(kVerification) when verification finds a difference (after dropping the target).
RestoreResult RestoreInto(Context& ctx, const format::Manifest& manifest, const std::string& conninfo,
                          const std::string& target, int jobs, bool verify);

}  // namespace dhanbak::command
