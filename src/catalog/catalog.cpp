#include "dhanbak/catalog/catalog.hpp"

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "catalog/migrations.hpp"
#include "catalog/sqlite.hpp"
#include "common/private_fs.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::catalog {

struct Catalog::State {
  std::unique_ptr<sqlite::Database> db;
  mutable std::mutex mu;
};

namespace {

// Columns of a backup row, in the order ReadBackup expects.
constexpr const char* kBackupColumns =
    "b.backup_id, r.url, b.database_name, b.status, b.started_at, b.finished_at, b.snapshot_time, "
    "b.server_version, b.row_count, b.logical_bytes, b.stored_bytes, b.new_chunks, b.manifest_name, "
    "b.error, b.id";
constexpr const char* kBackupFrom = " FROM backups b JOIN repositories r ON r.id = b.repository_id ";

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

BackupRecord ReadBackup(const sqlite::Statement& s) {
  BackupRecord r;
  r.backup_id = s.Text(0);
  r.repository = s.Text(1);
  r.database = s.Text(2);
  r.status = s.Text(3);
  r.started_at = s.Int(4);
  r.finished_at = s.Int(5);
  r.snapshot_time = s.Int(6);
  r.server_version = s.Text(7);
  r.rows = s.Int(8);
  r.logical_bytes = s.Int(9);
  r.stored_bytes = s.Int(10);
  r.new_chunks = s.Int(11);
  r.manifest_name = s.Text(12);
  r.error = s.Text(13);
  return r;
}

[[noreturn]] void Fail(const sqlite::Database& db, const std::string& what) {
  throw Error(ErrorCode::kCatalog, "catalog " + db.path() + ": " + what);
}

void CheckBackupStatus(const sqlite::Database& db, const BackupRecord& r, bool allow_running) {
  if (r.backup_id.empty()) Fail(db, "backup id is empty");
  if (r.status != "ok" && r.status != "failed" && !(allow_running && r.status == "running")) {
    Fail(db, "backup " + r.backup_id + ": invalid status '" + r.status + "'");
  }
  // A backup exists only once its manifest is stored (design §1): "ok" without one would make
  // restore pick something that is not there.
  if (r.status == "ok" && r.manifest_name.empty()) {
    Fail(db, "backup " + r.backup_id + ": status ok needs a manifest name");
  }
}

std::optional<int64_t> FindRepository(sqlite::Database& db, const std::string& url) {
  auto s = db.Prepare("SELECT id FROM repositories WHERE url = ?1");
  s.Bind(1, url);
  if (!s.Step()) return std::nullopt;
  return s.Int(0);
}

int64_t EnsureRepository(sqlite::Database& db, const std::string& url) {
  if (url.empty()) Fail(db, "repository url is empty");
  if (auto id = FindRepository(db, url)) return *id;
  db.Prepare("INSERT INTO repositories (url) VALUES (?1)").Bind(1, url).Run();
  return db.LastInsertRowid();
}

// Binds the mutable fields of a backup as parameters ?3..?15 (?1 repository id, ?2 backup id).
void BindBackupFields(sqlite::Statement& s, const BackupRecord& r) {
  s.Bind(3, r.database)
      .Bind(4, r.status)
      .Bind(5, r.started_at)
      .Bind(6, r.finished_at)
      .Bind(7, r.snapshot_time)
      .Bind(8, r.server_version)
      .Bind(9, r.rows)
      .Bind(10, r.logical_bytes)
      .Bind(11, r.stored_bytes)
      .Bind(12, r.new_chunks)
      .Bind(13, r.manifest_name)
      .Bind(14, r.error);
}

void ReplaceTables(sqlite::Database& db, int64_t backup_row, const std::vector<TableRecord>& tables) {
  db.Prepare("DELETE FROM backup_tables WHERE backup = ?1").Bind(1, backup_row).Run();
  auto insert = db.Prepare(
      "INSERT INTO backup_tables (backup, position, schema_name, table_name, row_count, byte_count, sha256, "
      "chunk_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  for (size_t i = 0; i < tables.size(); ++i) {
    const TableRecord& t = tables[i];
    insert.Bind(1, backup_row)
        .Bind(2, static_cast<int64_t>(i))
        .Bind(3, t.schema)
        .Bind(4, t.name)
        .Bind(5, t.rows)
        .Bind(6, t.bytes)
        .Bind(7, t.sha256)
        .Bind(8, t.chunks);
    insert.Run();
    insert.Reset();
  }
}

std::optional<int64_t> BackupRow(sqlite::Database& db, int64_t repository_id, const std::string& backup_id) {
  auto s = db.Prepare("SELECT id FROM backups WHERE repository_id = ?1 AND backup_id = ?2");
  s.Bind(1, repository_id).Bind(2, backup_id);
  if (!s.Step()) return std::nullopt;
  return s.Int(0);
}

std::optional<BackupRecord> FirstBackup(sqlite::Statement& s) {
  if (!s.Step()) return std::nullopt;
  return ReadBackup(s);
}

}  // namespace

Catalog::Catalog(std::unique_ptr<State> state) : state_(std::move(state)) {}
Catalog::~Catalog() = default;

int Catalog::LatestSchemaVersion() { return catalog::LatestSchemaVersion(); }

std::unique_ptr<Catalog> Catalog::Open(const std::string& path) {
  if (path.empty()) throw Error(ErrorCode::kCatalog, "catalog path is empty");
  // The catalog reveals database names and backup history, which are nobody else's business:
  // directories 0700, the database 0600 whatever the umask. SQLite creates -wal and -shm with
  // the database file's mode, so they are private too; older ones are tightened here.
  CreatePrivateDirectories(std::filesystem::path(path).parent_path().string(), ErrorCode::kCatalog,
                           "catalog " + path);
  MakePrivateFile(path, true, ErrorCode::kCatalog, "catalog " + path);
  MakePrivateFile(path + "-wal", false, ErrorCode::kCatalog, "catalog " + path);
  MakePrivateFile(path + "-shm", false, ErrorCode::kCatalog, "catalog " + path);
  auto state = std::make_unique<State>();
  state->db = std::make_unique<sqlite::Database>(path);
  sqlite::Database& db = *state->db;
  // Waits for another dhanbak's write instead of failing at once (busy_timeout is in ms).
  db.Exec("PRAGMA busy_timeout = 30000");
  // Reading the version first also rejects a file that is not a database before touching it.
  const int64_t version = db.QueryInt("PRAGMA user_version");
  if (version > catalog::LatestSchemaVersion()) catalog::Migrate(db);  // throws "newer"
  const std::string mode = db.QueryText("PRAGMA journal_mode = WAL");
  if (mode != "wal") Fail(db, "cannot switch to WAL journal mode (got '" + mode + "')");
  // NORMAL is durable across application crashes in WAL mode; a power loss may lose the last
  // transaction, which a catalog rebuild from storage recovers.
  db.Exec("PRAGMA synchronous = NORMAL");
  db.Exec("PRAGMA foreign_keys = ON");
  catalog::Migrate(db);
  return std::unique_ptr<Catalog>(new Catalog(std::move(state)));
}

const std::string& Catalog::path() const { return state_->db->path(); }

int Catalog::SchemaVersion() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->db->QueryInt("PRAGMA user_version"));
}

void Catalog::BeginBackup(const BackupRecord& r) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  if (r.backup_id.empty()) Fail(db, "backup id is empty");
  sqlite::Transaction tx(db);
  const int64_t repository_id = EnsureRepository(db, r.repository);
  if (BackupRow(db, repository_id, r.backup_id)) Fail(db, "backup " + r.backup_id + " already exists");
  BackupRecord running = r;
  running.status = "running";
  auto s = db.Prepare(
      "INSERT INTO backups (repository_id, backup_id, database_name, status, started_at, finished_at, "
      "snapshot_time, server_version, row_count, logical_bytes, stored_bytes, new_chunks, manifest_name, error) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  s.Bind(1, repository_id).Bind(2, r.backup_id);
  BindBackupFields(s, running);
  s.Run();
  tx.Commit();
}

void Catalog::FinishBackup(const BackupRecord& r) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  CheckBackupStatus(db, r, false);
  sqlite::Transaction tx(db);
  const auto repository_id = FindRepository(db, r.repository);
  const auto row = repository_id ? BackupRow(db, *repository_id, r.backup_id) : std::nullopt;
  if (!row) Fail(db, "backup " + r.backup_id + " was never begun in repository " + r.repository);
  auto s = db.Prepare(
      "UPDATE backups SET database_name = ?3, status = ?4, started_at = ?5, finished_at = ?6, "
      "snapshot_time = ?7, server_version = ?8, row_count = ?9, logical_bytes = ?10, stored_bytes = ?11, "
      "new_chunks = ?12, manifest_name = ?13, error = ?14 WHERE repository_id = ?1 AND backup_id = ?2");
  s.Bind(1, *repository_id).Bind(2, r.backup_id);
  BindBackupFields(s, r);
  s.Run();
  ReplaceTables(db, *row, r.tables);
  tx.Commit();
}

void Catalog::UpsertBackup(const BackupRecord& r) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  CheckBackupStatus(db, r, true);
  sqlite::Transaction tx(db);
  const int64_t repository_id = EnsureRepository(db, r.repository);
  auto s = db.Prepare(
      "INSERT INTO backups (repository_id, backup_id, database_name, status, started_at, finished_at, "
      "snapshot_time, server_version, row_count, logical_bytes, stored_bytes, new_chunks, manifest_name, error) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
      "ON CONFLICT (repository_id, backup_id) DO UPDATE SET database_name = excluded.database_name, "
      "status = excluded.status, started_at = excluded.started_at, finished_at = excluded.finished_at, "
      "snapshot_time = excluded.snapshot_time, server_version = excluded.server_version, "
      "row_count = excluded.row_count, logical_bytes = excluded.logical_bytes, "
      "stored_bytes = excluded.stored_bytes, new_chunks = excluded.new_chunks, "
      "manifest_name = excluded.manifest_name, error = excluded.error");
  s.Bind(1, repository_id).Bind(2, r.backup_id);
  BindBackupFields(s, r);
  s.Run();
  ReplaceTables(db, *BackupRow(db, repository_id, r.backup_id), r.tables);
  tx.Commit();
}

int Catalog::MarkInterrupted(const std::string& repository) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  auto s = db.Prepare(
      "UPDATE backups SET status = 'failed', error = 'interrupted' "
      "WHERE status = 'running' AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  s.Bind(1, repository);
  s.Run();
  return static_cast<int>(db.Changes());
}

std::vector<BackupRecord> Catalog::ListBackups(const std::string& repository,
                                               const std::optional<std::string>& database) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(std::string("SELECT ") + kBackupColumns + kBackupFrom +
                               "WHERE r.url = ?1 AND (?2 IS NULL OR b.database_name = ?2) "
                               "ORDER BY CASE WHEN b.snapshot_time != 0 THEN b.snapshot_time ELSE b.started_at END "
                               "DESC, b.started_at DESC, b.id DESC");
  s.Bind(1, repository);
  if (database) s.Bind(2, *database);  // unbound parameters are NULL
  std::vector<BackupRecord> out;
  while (s.Step()) out.push_back(ReadBackup(s));
  return out;
}

std::optional<BackupRecord> Catalog::GetBackup(const std::string& repository, const std::string& backup_id) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  auto s = db.Prepare(std::string("SELECT ") + kBackupColumns + kBackupFrom + "WHERE r.url = ?1 AND b.backup_id = ?2");
  s.Bind(1, repository).Bind(2, backup_id);
  if (!s.Step()) return std::nullopt;
  BackupRecord r = ReadBackup(s);
  const int64_t row = s.Int(14);
  auto t = db.Prepare(
      "SELECT schema_name, table_name, row_count, byte_count, sha256, chunk_count FROM backup_tables "
      "WHERE backup = ?1 ORDER BY position");
  t.Bind(1, row);
  while (t.Step()) {
    r.tables.push_back(TableRecord{t.Text(0), t.Text(1), t.Int(2), t.Int(3), t.Text(4), t.Int(5)});
  }
  return r;
}

std::optional<BackupRecord> Catalog::FindBackupAt(const std::string& repository, const std::string& database,
                                                  std::optional<UnixMicros> at) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(std::string("SELECT ") + kBackupColumns + kBackupFrom +
                               "WHERE r.url = ?1 AND b.database_name = ?2 AND b.status = 'ok' "
                               "AND (?3 IS NULL OR b.snapshot_time <= ?3) "
                               "ORDER BY b.snapshot_time DESC, b.started_at DESC, b.id DESC LIMIT 1");
  s.Bind(1, repository).Bind(2, database);
  if (at) s.Bind(3, *at);
  return FirstBackup(s);
}

std::optional<BackupRecord> Catalog::EarliestGoodBackup(const std::string& repository, const std::string& database) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(std::string("SELECT ") + kBackupColumns + kBackupFrom +
                               "WHERE r.url = ?1 AND b.database_name = ?2 AND b.status = 'ok' "
                               "ORDER BY b.snapshot_time ASC, b.started_at ASC, b.id ASC LIMIT 1");
  s.Bind(1, repository).Bind(2, database);
  return FirstBackup(s);
}

void Catalog::DeleteBackup(const std::string& repository, const std::string& backup_id) {
  std::lock_guard lock(state_->mu);
  // backup_tables rows go with it (ON DELETE CASCADE; foreign_keys is on).
  auto s = state_->db->Prepare(
      "DELETE FROM backups WHERE backup_id = ?2 AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  s.Bind(1, repository).Bind(2, backup_id);
  s.Run();
  auto l = state_->db->Prepare(
      "DELETE FROM lost_backups WHERE backup_id = ?2 AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  l.Bind(1, repository).Bind(2, backup_id);
  l.Run();
}

void Catalog::RecordDamagedChunk(const std::string& repository, const std::string& chunk_id,
                                 const std::string& detail) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  sqlite::Transaction tx(db);
  const int64_t repository_id = EnsureRepository(db, repository);
  auto s = db.Prepare(
      "INSERT INTO damaged_chunks (repository_id, chunk_id, found_at, detail) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (repository_id, chunk_id) DO UPDATE SET detail = excluded.detail");
  s.Bind(1, repository_id).Bind(2, chunk_id).Bind(3, NowUnixMicros()).Bind(4, detail);
  s.Run();
  tx.Commit();
}

std::vector<std::pair<std::string, std::string>> Catalog::DamagedChunks(const std::string& repository) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "SELECT d.chunk_id, d.detail FROM damaged_chunks d JOIN repositories r ON r.id = d.repository_id "
      "WHERE r.url = ?1 ORDER BY d.chunk_id");
  s.Bind(1, repository);
  std::vector<std::pair<std::string, std::string>> out;
  while (s.Step()) out.emplace_back(s.Text(0), s.Text(1));
  return out;
}

void Catalog::ClearDamagedChunk(const std::string& repository, const std::string& chunk_id) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "DELETE FROM damaged_chunks WHERE chunk_id = ?2 AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  s.Bind(1, repository).Bind(2, chunk_id);
  s.Run();
}

void Catalog::RecordLostBackup(const std::string& repository, const std::string& backup_id) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  sqlite::Transaction tx(db);
  const int64_t repository_id = EnsureRepository(db, repository);
  auto s = db.Prepare(
      "INSERT INTO lost_backups (repository_id, backup_id, found_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (repository_id, backup_id) DO NOTHING");
  s.Bind(1, repository_id).Bind(2, backup_id).Bind(3, NowUnixMicros());
  s.Run();
  tx.Commit();
}

void Catalog::ClearLostBackup(const std::string& repository, const std::string& backup_id) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "DELETE FROM lost_backups WHERE backup_id = ?2 AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  s.Bind(1, repository).Bind(2, backup_id);
  s.Run();
}

std::vector<std::string> Catalog::LostBackups(const std::string& repository) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "SELECT l.backup_id FROM lost_backups l JOIN repositories r ON r.id = l.repository_id WHERE r.url = ?1 "
      "ORDER BY l.backup_id");
  s.Bind(1, repository);
  std::vector<std::string> out;
  while (s.Step()) out.push_back(s.Text(0));
  return out;
}

void Catalog::RecordVerification(const VerificationRecord& v) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  if (v.status != "ok" && v.status != "failed") Fail(db, "invalid verification status '" + v.status + "'");
  auto s = db.Prepare(
      "INSERT INTO verifications (backup_id, database_name, status, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)");
  s.Bind(1, v.backup_id).Bind(2, v.database).Bind(3, v.status).Bind(4, v.detail).Bind(5, v.at);
  s.Run();
}

std::optional<VerificationRecord> Catalog::LastVerification(const std::string& database) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "SELECT backup_id, database_name, status, detail, at FROM verifications WHERE database_name = ?1 "
      "ORDER BY at DESC, id DESC LIMIT 1");
  s.Bind(1, database);
  if (!s.Step()) return std::nullopt;
  return VerificationRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
}

std::set<std::string> Catalog::VerifiedBackupIds() {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare("SELECT backup_id, status FROM verifications ORDER BY at, id");
  std::map<std::string, bool> last_passed;
  while (s.Step()) last_passed[s.Text(0)] = s.Text(1) == "ok";
  std::set<std::string> ids;
  for (const auto& [id, passed] : last_passed) {
    if (passed) ids.insert(id);
  }
  return ids;
}

void Catalog::RecordPitrVerification(const PitrVerificationRecord& v) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  if (v.status != "ok" && v.status != "failed") Fail(db, "invalid verification status '" + v.status + "'");
  auto s = db.Prepare(
      "INSERT INTO pitr_verifications (database_name, base_backup_id, target_time, status, detail, rto_millis, at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  s.Bind(1, v.database).Bind(2, v.base_backup_id).Bind(3, v.target_time).Bind(4, v.status).Bind(5, v.detail);
  s.Bind(6, v.rto_millis).Bind(7, v.at);
  s.Run();
}

std::optional<PitrVerificationRecord> Catalog::LastPitrVerification(const std::string& database) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "SELECT database_name, base_backup_id, status, detail, target_time, at, rto_millis FROM pitr_verifications "
      "WHERE database_name = ?1 ORDER BY at DESC, id DESC LIMIT 1");
  s.Bind(1, database);
  if (!s.Step()) return std::nullopt;
  return PitrVerificationRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)};
}

void Catalog::RecordRestore(const RestoreRecord& r) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "INSERT INTO restores (backup_id, database_name, target, status, detail, started_at, finished_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  s.Bind(1, r.backup_id)
      .Bind(2, r.database)
      .Bind(3, r.target)
      .Bind(4, r.status)
      .Bind(5, r.detail)
      .Bind(6, r.started_at)
      .Bind(7, r.finished_at);
  s.Run();
}

void Catalog::RecordBaseBackup(const BaseBackupRecord& r) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  if (r.backup_id.empty()) Fail(db, "base backup id is empty");
  if (r.status != "running" && r.status != "ok" && r.status != "failed") Fail(db, "invalid status " + r.status);
  if (r.status == "ok" && r.manifest_name.empty()) Fail(db, "base backup " + r.backup_id + " is ok without a manifest");
  sqlite::Transaction tx(db);
  const int64_t repository_id = EnsureRepository(db, r.repository);
  auto s = db.Prepare(
      "INSERT OR REPLACE INTO base_backups (repository_id, backup_id, status, started_at, stopped_at, finished_at, "
      "system_identifier, server_version, timeline, start_lsn, stop_lsn, start_wal, stop_wal, bytes, stored_bytes, "
      "manifest_name, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
  s.Bind(1, repository_id).Bind(2, r.backup_id).Bind(3, r.status).Bind(4, r.started_at).Bind(5, r.stopped_at);
  s.Bind(6, r.finished_at).Bind(7, r.system_identifier).Bind(8, r.server_version).Bind(9, r.timeline);
  s.Bind(10, r.start_lsn).Bind(11, r.stop_lsn).Bind(12, r.start_wal).Bind(13, r.stop_wal).Bind(14, r.bytes);
  s.Bind(15, r.stored_bytes).Bind(16, r.manifest_name).Bind(17, r.error);
  s.Run();
  tx.Commit();
}

std::vector<BaseBackupRecord> Catalog::ListBaseBackups(const std::string& repository) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "SELECT b.backup_id, b.status, b.started_at, b.stopped_at, b.finished_at, b.system_identifier, "
      "b.server_version, b.timeline, b.start_lsn, b.stop_lsn, b.start_wal, b.stop_wal, b.bytes, b.stored_bytes, "
      "b.manifest_name, b.error FROM base_backups b JOIN repositories r ON r.id = b.repository_id "
      "WHERE r.url = ?1 ORDER BY b.started_at DESC, b.backup_id DESC");
  s.Bind(1, repository);
  std::vector<BaseBackupRecord> out;
  while (s.Step()) {
    BaseBackupRecord r;
    r.repository = repository;
    r.backup_id = s.Text(0);
    r.status = s.Text(1);
    r.started_at = s.Int(2);
    r.stopped_at = s.Int(3);
    r.finished_at = s.Int(4);
    r.system_identifier = s.Text(5);
    r.server_version = s.Text(6);
    r.timeline = s.Int(7);
    r.start_lsn = s.Text(8);
    r.stop_lsn = s.Text(9);
    r.start_wal = s.Text(10);
    r.stop_wal = s.Text(11);
    r.bytes = s.Int(12);
    r.stored_bytes = s.Int(13);
    r.manifest_name = s.Text(14);
    r.error = s.Text(15);
    out.push_back(std::move(r));
  }
  return out;
}

int Catalog::MarkBaseBackupsInterrupted(const std::string& repository) {
  std::lock_guard lock(state_->mu);
  sqlite::Database& db = *state_->db;
  auto s = db.Prepare(
      "UPDATE base_backups SET status = 'failed', error = 'interrupted' "
      "WHERE status = 'running' AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  s.Bind(1, repository);
  s.Run();
  return static_cast<int>(db.Changes());
}

void Catalog::DeleteBaseBackup(const std::string& repository, const std::string& backup_id) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "DELETE FROM base_backups WHERE backup_id = ?2 AND repository_id = (SELECT id FROM repositories WHERE url = ?1)");
  s.Bind(1, repository).Bind(2, backup_id);
  s.Run();
}

void Catalog::RecordPrune(UnixMicros at, int64_t manifests_deleted, int64_t chunks_deleted,
                          const std::string& detail) {
  std::lock_guard lock(state_->mu);
  auto s = state_->db->Prepare(
      "INSERT INTO prunes (at, manifests_deleted, chunks_deleted, detail) VALUES (?1, ?2, ?3, ?4)");
  s.Bind(1, at).Bind(2, manifests_deleted).Bind(3, chunks_deleted).Bind(4, detail);
  s.Run();
}

}  // namespace dhanbak::catalog
