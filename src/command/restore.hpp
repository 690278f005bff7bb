// `dhanbak restore DB [--at TIME | --backup ID] [--target-db NAME | --replace] ...`
//
// Into a new database by default. With --replace the backup is restored under a temporary
// name and verified; only then is the live database renamed aside to
// `<name>_before_restore_<timestamp>` (kept, never dropped) and the restored one renamed to
// `<name>`, so the service is never left without a database or with a half-loaded one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "dhanbak/catalog/catalog.hpp"
#include "dhanbak/format/manifest.hpp"

namespace dhanbak::command {

struct RestoreOptions {
  std::string database;
  std::optional<std::string> at;  // TIME
  std::optional<std::string> backup_id;
  std::string source;  // "wal", "nightly" or "" (wal when the archive covers --at TIME)
  std::optional<std::string> target_db;
  bool replace = false;
  bool yes = false;
  bool terminate_connections = false;
  bool globals = false;
  std::optional<std::string> target_conninfo;
  std::vector<std::string> tables;  // SCHEMA.TABLE
  std::optional<int> jobs;
  bool verify = true;
};

int RunRestore(Context& ctx, const RestoreOptions& options);

// Picks the backup `at`/`backup_id` names (newest good at or before TIME, `latest` by default).
// Throws Error(kNotFound) naming the earliest available backup when TIME is before it.
catalog::BackupRecord SelectBackup(Context& ctx, const std::string& database, const std::optional<std::string>& at,
                                   const std::optional<std::string>& backup_id);

// Reads the manifest of a backup SelectBackup picked. When the manifest is missing from storage
// the backup is lost: records that in the catalog (`status` shows it). When it is missing or
// corrupted, throws Error(kCorruption) naming the object and the newest older backup of the
// database that is intact (its manifest opens and every chunk it needs is present and not known damaged), so
// that the operator can restore that one with --backup ID.
format::Manifest FetchManifest(Context& ctx, const catalog::BackupRecord& backup);

}  // namespace dhanbak::command
