// Catalog — the local SQLite record of repositories, backups (with their tables),
// verifications, restores and prunes (design §1 "Catalog").
//
// The catalog is a cache of the repository: everything in it about backups can be recreated from
// the manifests in storage (`dhanbak catalog rebuild`, via UpsertBackup), because the machine
// holding it is the one most likely to be lost. It never decides on its own what exists in
// storage; a backup is restorable only with status "ok", which requires a manifest name.
//
// The file runs in WAL mode with a busy timeout, so a `status` or `list` can read while a backup
// writes. The schema is versioned (PRAGMA user_version) and migrated forward on Open; a file
// written by a newer dhanbak is refused rather than guessed at. Methods are thread-safe.
// Errors are Error(kCatalog, "catalog PATH: ...").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dhanbak {

// Microseconds since the Unix epoch, UTC (the same alias as in common/time_spec.hpp).
using UnixMicros = int64_t;

namespace catalog {

struct TableRecord {
  std::string schema, name;
  int64_t rows = 0;
  int64_t bytes = 0;   // bytes of the table's COPY stream
  std::string sha256;  // hex SHA-256 of the COPY stream
  int64_t chunks = 0;
};

struct BackupRecord {
  std::string backup_id;   // unique within a repository, e.g. "20240115T020000Z-3f9a1c"
  std::string repository;  // repository URL (without credentials)
  std::string database;
  std::string status;  // "running", "ok", "failed"
  UnixMicros started_at = 0, finished_at = 0, snapshot_time = 0;
  std::string server_version;
  int64_t rows = 0, logical_bytes = 0, stored_bytes = 0, new_chunks = 0;
  std::string manifest_name;        // object name of the manifest; required when status is "ok"
  std::string error;                // message when failed
  std::vector<TableRecord> tables;  // filled by GetBackup, stored by FinishBackup/UpsertBackup
};

// A base backup (base-backup): "ok" only once its manifest is stored, i.e. once the WAL from its
// start to its stop is archived.
struct BaseBackupRecord {
  std::string backup_id, repository, status /* running | ok | failed */;
  UnixMicros started_at = 0, stopped_at = 0, finished_at = 0;
  std::string system_identifier, server_version;
  int64_t timeline = 0;
  std::string start_lsn, stop_lsn, start_wal, stop_wal;
  int64_t bytes = 0, stored_bytes = 0;
  std::string manifest_name, error;
};

struct VerificationRecord {
  std::string backup_id, database, status /* ok | failed */, detail;
  UnixMicros at = 0;
};

// verify --pitr: `database` restored from the WAL archive as of `target_time` (0: the end of
// the archive; database "(cluster)": the newest base backup replayed to the end and checked).
struct PitrVerificationRecord {
  std::string database, base_backup_id, status /* ok | failed */, detail;
  UnixMicros target_time = 0, at = 0;
  int64_t rto_millis = 0;  // the whole restore, as an incident would take it
};

struct RestoreRecord {
  std::string backup_id, database, target, status, detail;
  UnixMicros started_at = 0, finished_at = 0;
};

class Catalog {
 public:
  // Opens or creates the catalog at `path` (creating missing parent directories with mode 0700)
  // and migrates its schema to the current version.
  static std::unique_ptr<Catalog> Open(const std::string& path);
  // The schema version this build creates and understands.
  static int LatestSchemaVersion();
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Inserts the backup with status "running" (whatever r.status says); an existing backup_id in
  // the same repository is an error.
  void BeginBackup(const BackupRecord& r);
  // Updates every field of a begun backup and replaces its tables. Status must be "ok" (with a
  // manifest name) or "failed".
  void FinishBackup(const BackupRecord& r);
  // Inserts or replaces a backup with its tables (catalog rebuild from manifests).
  void UpsertBackup(const BackupRecord& r);
  // Marks the repository's "running" backups failed with error "interrupted" and returns how
  // many there were. Call only while holding the repository lock, so no live run is affected.
  int MarkInterrupted(const std::string& repository);
  // Newest first, without tables. A backup that failed before taking its snapshot has no
  // snapshot_time and is ordered by its start time instead.
  std::vector<BackupRecord> ListBackups(const std::string& repository,
                                        const std::optional<std::string>& database);
  // With tables, in the order they were stored.
  std::optional<BackupRecord> GetBackup(const std::string& repository, const std::string& backup_id);
  // The newest backup with status "ok" and snapshot_time <= at (the newest "ok" when at is
  // nullopt). Never a running or failed backup.
  std::optional<BackupRecord> FindBackupAt(const std::string& repository, const std::string& database,
                                           std::optional<UnixMicros> at);
  std::optional<BackupRecord> EarliestGoodBackup(const std::string& repository, const std::string& database);
  // Removes the backup and its tables; deleting an unknown backup is not an error.
  void DeleteBackup(const std::string& repository, const std::string& backup_id);

  // Inserts or replaces a base backup (by repository and backup id).
  void RecordBaseBackup(const BaseBackupRecord& r);
  // Newest first (by start time).
  std::vector<BaseBackupRecord> ListBaseBackups(const std::string& repository);
  // Marks the repository's "running" base backups failed ("interrupted"); returns how many.
  // Call only while holding the base backup lock.
  int MarkBaseBackupsInterrupted(const std::string& repository);
  void DeleteBaseBackup(const std::string& repository, const std::string& backup_id);

  // Damage found in storage (design: "corruption heals, not spread").
  // A chunk some reader found corrupted or missing: the next backup stores it again when it
  // meets the same data, instead of deduplicating against the bad object. Recording again
  // keeps the first time and updates the detail.
  void RecordDamagedChunk(const std::string& repository, const std::string& chunk_id, const std::string& detail);
  // chunk id -> detail, for the repository.
  std::vector<std::pair<std::string, std::string>> DamagedChunks(const std::string& repository);
  // A backup stored the chunk again (or a full read found it intact): trust it again.
  void ClearDamagedChunk(const std::string& repository, const std::string& chunk_id);
  // A backup the catalog holds as "ok" whose manifest is missing from storage.
  void RecordLostBackup(const std::string& repository, const std::string& backup_id);
  void ClearLostBackup(const std::string& repository, const std::string& backup_id);
  std::vector<std::string> LostBackups(const std::string& repository);

  void RecordVerification(const VerificationRecord& v);
  // The most recent verification of `database` (by time, then by insertion).
  std::optional<VerificationRecord> LastVerification(const std::string& database);
  // The backups whose most recent verification passed (retention prefers them).
  std::set<std::string> VerifiedBackupIds();
  void RecordPitrVerification(const PitrVerificationRecord& v);
  std::optional<PitrVerificationRecord> LastPitrVerification(const std::string& database);
  void RecordRestore(const RestoreRecord& r);
  void RecordPrune(UnixMicros at, int64_t manifests_deleted, int64_t chunks_deleted, const std::string& detail);

  int SchemaVersion() const;
  const std::string& path() const;

 private:
  struct State;
  explicit Catalog(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace catalog
}  // namespace dhanbak
