#include "catalog/migrations.hpp"

#include <string>
#include <vector>

#include "dhanbak/error.hpp"

namespace dhanbak::catalog {
namespace {

// Append only: never edit a migration that has shipped; add a new one instead.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> migrations = {
      // 1: repositories, backups with their tables, verifications, restores, prunes.
      R"sql(
      CREATE TABLE repositories (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE
      );
      CREATE TABLE backups (
        id INTEGER PRIMARY KEY,
        repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
        backup_id TEXT NOT NULL,
        database_name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        started_at INTEGER NOT NULL DEFAULT 0,
        finished_at INTEGER NOT NULL DEFAULT 0,
        snapshot_time INTEGER NOT NULL DEFAULT 0,
        server_version TEXT NOT NULL DEFAULT '',
        row_count INTEGER NOT NULL DEFAULT 0,
        logical_bytes INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        new_chunks INTEGER NOT NULL DEFAULT 0,
        manifest_name TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        UNIQUE (repository_id, backup_id)
      );
      CREATE INDEX backups_by_database ON backups (repository_id, database_name, status, snapshot_time);
      CREATE TABLE backup_tables (
        backup INTEGER NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        schema_name TEXT NOT NULL,
        table_name TEXT NOT NULL,
        row_count INTEGER NOT NULL,
        byte_count INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        chunk_count INTEGER NOT NULL,
        PRIMARY KEY (backup, position)
      ) WITHOUT ROWID;
      CREATE TABLE verifications (
        id INTEGER PRIMARY KEY,
        backup_id TEXT NOT NULL,
        database_name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
        detail TEXT NOT NULL DEFAULT '',
        at INTEGER NOT NULL
      );
      CREATE INDEX verifications_by_database ON verifications (database_name, at);
      CREATE TABLE restores (
        id INTEGER PRIMARY KEY,
        backup_id TEXT NOT NULL,
        database_name TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL
      );
      CREATE TABLE prunes (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        manifests_deleted INTEGER NOT NULL,
        chunks_deleted INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
      );
      )sql",
      // 2: damage found in storage. A chunk found corrupted or missing by any reader is not
      // trusted for deduplication until a backup has stored it again; a backup whose manifest
      // is missing from storage is lost (not restorable) until the catalog forgets it.
      R"sql(
      CREATE TABLE damaged_chunks (
        repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
        chunk_id TEXT NOT NULL,
        found_at INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (repository_id, chunk_id)
      ) WITHOUT ROWID;
      CREATE TABLE lost_backups (
        repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
        backup_id TEXT NOT NULL,
        found_at INTEGER NOT NULL,
        PRIMARY KEY (repository_id, backup_id)
      ) WITHOUT ROWID;
      )sql",
      // 3: base backups (physical copies of the whole cluster, for the WAL archive).
      R"sql(
      CREATE TABLE base_backups (
        repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
        backup_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        started_at INTEGER NOT NULL DEFAULT 0,
        stopped_at INTEGER NOT NULL DEFAULT 0,
        finished_at INTEGER NOT NULL DEFAULT 0,
        system_identifier TEXT NOT NULL DEFAULT '',
        server_version TEXT NOT NULL DEFAULT '',
        timeline INTEGER NOT NULL DEFAULT 0,
        start_lsn TEXT NOT NULL DEFAULT '',
        stop_lsn TEXT NOT NULL DEFAULT '',
        start_wal TEXT NOT NULL DEFAULT '',
        stop_wal TEXT NOT NULL DEFAULT '',
        bytes INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        manifest_name TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (repository_id, backup_id)
      ) WITHOUT ROWID;
      )sql",
      // 4: point-in-time verifications (verify --pitr): a database restored from the WAL
      // archive at a random point, or the whole chain ('(cluster)'), and how long it took.
      R"sql(
      CREATE TABLE pitr_verifications (
        id INTEGER PRIMARY KEY,
        database_name TEXT NOT NULL,
        base_backup_id TEXT NOT NULL,
        target_time INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
        detail TEXT NOT NULL DEFAULT '',
        rto_millis INTEGER NOT NULL DEFAULT 0,
        at INTEGER NOT NULL
      );
      CREATE INDEX pitr_verifications_by_database ON pitr_verifications (database_name, at);
      )sql",
  };
  return migrations;
}

[[noreturn]] void TooNew(const sqlite::Database& db, int64_t version) {
  throw Error(ErrorCode::kCatalog,
              "catalog " + db.path() + ": schema version " + std::to_string(version) +
                  " was written by a newer dhanbak (this one understands up to version " +
                  std::to_string(LatestSchemaVersion()) +
                  "); upgrade dhanbak, or move the file aside and run 'dhanbak catalog rebuild'");
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

void Migrate(sqlite::Database& db) {
  const int64_t latest = LatestSchemaVersion();
  int64_t version = db.QueryInt("PRAGMA user_version");
  if (version > latest) TooNew(db, version);
  while (version < latest) {
    sqlite::Transaction tx(db);
    // Re-read under the write lock: another process may have migrated in the meantime.
    version = db.QueryInt("PRAGMA user_version");
    if (version > latest) TooNew(db, version);
    if (version == latest) break;
    db.Exec(Migrations()[static_cast<size_t>(version)]);
    db.Exec("PRAGMA user_version = " + std::to_string(version + 1));
    tx.Commit();
    ++version;
  }
}

}  // namespace dhanbak::catalog
