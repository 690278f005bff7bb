// Catalog: schema migrations, WAL mode, backup bookkeeping and restore selection.
#include "dhanbak/catalog/catalog.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "dhanbak/error.hpp"

namespace dhanbak::catalog::catalog_test {  // this file's names, apart from its unity batch's
namespace {

namespace fs = std::filesystem;

const std::string kRepo = "file:///var/backups/dhanbak";
const std::string kOtherRepo = "b2://dhanman-backups/postgresql";
const std::string kSales = "prod-dhanman-sales";

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dhanbak-catalog-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string File(const std::string& name) const { return (path / name).string(); }
};

template <typename Fn>
std::string CatalogError(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCatalog);
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

// Raw SQL against the file, bypassing the Catalog, to inspect or tamper with it.
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string result;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

BackupRecord Backup(const std::string& id, const std::string& database, UnixMicros started) {
  BackupRecord r;
  r.backup_id = id;
  r.repository = kRepo;
  r.database = database;
  r.started_at = started;
  return r;
}

// Begins and finishes a backup with the given outcome.
BackupRecord AddBackup(Catalog& c, const std::string& id, const std::string& database, UnixMicros snapshot,
                       const std::string& status) {
  BackupRecord r = Backup(id, database, snapshot - 5);
  c.BeginBackup(r);
  if (status == "running") return r;
  r.status = status;
  r.snapshot_time = snapshot;
  r.finished_at = snapshot + 100;
  if (status == "ok") r.manifest_name = "manifests/" + id;
  else r.error = "something broke";
  c.FinishBackup(r);
  return r;
}

}  // namespace

TEST_CASE("catalog: a new catalog is created with the latest schema, in WAL mode") {
  TempDir dir;
  const std::string path = dir.File("state/nested/catalog.sqlite");
  auto c = Catalog::Open(path);
  CHECK(Catalog::LatestSchemaVersion() >= 1);
  CHECK(c->SchemaVersion() == Catalog::LatestSchemaVersion());
  CHECK(c->path() == path);
  CHECK(fs::exists(path));
  struct stat st {};
  REQUIRE(::stat(dir.File("state").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat(dir.File("state/nested").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(RawQuery(path, "PRAGMA journal_mode") == "wal");
  CHECK(RawQuery(path, "PRAGMA user_version") == std::to_string(Catalog::LatestSchemaVersion()));
  for (const char* table : {"repositories", "backups", "backup_tables", "verifications", "restores", "prunes"}) {
    CAPTURE(table);
    CHECK(RawQuery(path, std::string("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '") + table +
                             "'") == table);
  }
}

TEST_CASE("catalog: reopening is idempotent and keeps the data") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  AddBackup(*Catalog::Open(path), "b1", kSales, 1000, "ok");
  for (int i = 0; i < 3; ++i) {
    auto c = Catalog::Open(path);
    CHECK(c->SchemaVersion() == Catalog::LatestSchemaVersion());
    auto list = c->ListBackups(kRepo, std::nullopt);
    REQUIRE(list.size() == 1);
    CHECK(list[0].backup_id == "b1");
  }
  // Two open handles at once (a `list` while a `backup` runs) both work.
  auto a = Catalog::Open(path);
  auto b = Catalog::Open(path);
  AddBackup(*a, "b2", kSales, 2000, "ok");
  CHECK(b->ListBackups(kRepo, kSales).size() == 2);
}

TEST_CASE("catalog: a catalog from a newer dhanbak is refused") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  Catalog::Open(path);
  RawQuery(path, "PRAGMA user_version = 999");
  std::string message = CatalogError([&] { Catalog::Open(path); });
  CHECK(message.rfind("catalog " + path + ": schema version 999 was written by a newer dhanbak", 0) == 0);
  CHECK(message.find("dhanbak catalog rebuild") != std::string::npos);
  CHECK(RawQuery(path, "PRAGMA user_version") == "999");  // left untouched
}

TEST_CASE("catalog: a file that is not a database is refused") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  std::ofstream(path) << "this is not an sqlite database, just some text that is long enough to matter\n";
  std::string message = CatalogError([&] { Catalog::Open(path); });
  CHECK(message.rfind("catalog " + path + ": ", 0) == 0);
  CHECK(message.find("not a database") != std::string::npos);
}

TEST_CASE("catalog: an unwritable location is reported") {
  if (::geteuid() == 0) return;  // root ignores permissions
  TempDir dir;
  fs::create_directory(dir.path / "locked");
  fs::permissions(dir.path / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = dir.File("locked/sub/catalog.sqlite");
  std::string message = CatalogError([&] { Catalog::Open(path); });
  CHECK(message.find("catalog " + path + ": cannot create directory") == 0);
  fs::permissions(dir.path / "locked", fs::perms::owner_all);
}

TEST_CASE("catalog: begin, finish and get a backup with its tables") {
  TempDir dir;
  auto c = Catalog::Open(dir.File("catalog.sqlite"));
  BackupRecord r = Backup("20240115T020000Z-3f9a1c", kSales, 1705284000000000);
  r.status = "ok";  // ignored by BeginBackup
  c->BeginBackup(r);
  auto running = c->GetBackup(kRepo, r.backup_id);
  REQUIRE(running);
  CHECK(running->status == "running");
  CHECK(running->repository == kRepo);
  CHECK(running->database == kSales);
  CHECK(running->started_at == 1705284000000000);
  CHECK(running->tables.empty());

  r.status = "ok";
  r.finished_at = r.started_at + 60000000;
  r.snapshot_time = r.started_at + 1000000;
  r.server_version = "15.5";
  r.rows = 1234;
  r.logical_bytes = 1 << 20;
  r.stored_bytes = 300000;
  r.new_chunks = 7;
  r.manifest_name = "manifests/prod-dhanman-sales/20240115T020000Z-3f9a1c";
  r.tables = {{"public", "invoices", 1000, 900000, std::string(64, 'a'), 5},
              {"sales", "orders \"quoted\"", 234, 148576, std::string(64, 'b'), 2},
              {"public", "empty", 0, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0}};
  c->FinishBackup(r);

  auto got = c->GetBackup(kRepo, r.backup_id);
  REQUIRE(got);
  CHECK(got->status == "ok");
  CHECK(got->finished_at == r.finished_at);
  CHECK(got->snapshot_time == r.snapshot_time);
  CHECK(got->server_version == "15.5");
  CHECK(got->rows == 1234);
  CHECK(got->logical_bytes == 1 << 20);
  CHECK(got->stored_bytes == 300000);
  CHECK(got->new_chunks == 7);
  CHECK(got->manifest_name == r.manifest_name);
  CHECK(got->error.empty());
  REQUIRE(got->tables.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(got->tables[i].schema == r.tables[i].schema);
    CHECK(got->tables[i].name == r.tables[i].name);
    CHECK(got->tables[i].rows == r.tables[i].rows);
    CHECK(got->tables[i].bytes == r.tables[i].bytes);
    CHECK(got->tables[i].sha256 == r.tables[i].sha256);
    CHECK(got->tables[i].chunks == r.tables[i].chunks);
  }
  // Lists carry no tables.
  auto list = c->ListBackups(kRepo, kSales);
  REQUIRE(list.size() == 1);
  CHECK(list[0].tables.empty());
  CHECK(list[0].rows == 1234);

  // Finishing again replaces the tables rather than appending.
  r.tables.resize(1);
  c->FinishBackup(r);
  CHECK(c->GetBackup(kRepo, r.backup_id)->tables.size() == 1);

  // Unknown ids and other repositories see nothing.
  CHECK_FALSE(c->GetBackup(kRepo, "nope"));
  CHECK_FALSE(c->GetBackup(kOtherRepo, r.backup_id));
}

TEST_CASE("catalog: bookkeeping mistakes are errors") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  auto c = Catalog::Open(path);
  BackupRecord r = Backup("b1", kSales, 10);
  c->BeginBackup(r);
  CHECK(CatalogError([&] { c->BeginBackup(r); }) == "catalog " + path + ": backup b1 already exists");

  r.status = "ok";  // without a manifest
  CHECK(CatalogError([&] { c->FinishBackup(r); }) == "catalog " + path + ": backup b1: status ok needs a manifest name");
  r.status = "running";
  CHECK(CatalogError([&] { c->FinishBackup(r); }) == "catalog " + path + ": backup b1: invalid status 'running'");
  BackupRecord never = Backup("b9", kSales, 10);
  never.status = "failed";
  CHECK(CatalogError([&] { c->FinishBackup(never); }) ==
        "catalog " + path + ": backup b9 was never begun in repository " + kRepo);
  VerificationRecord v{"b1", kSales, "maybe", "", 1};
  CHECK(CatalogError([&] { c->RecordVerification(v); }) == "catalog " + path + ": invalid verification status 'maybe'");
}

TEST_CASE("catalog: FindBackupAt picks the newest ok backup at or before the time") {
  TempDir dir;
  auto c = Catalog::Open(dir.File("catalog.sqlite"));
  AddBackup(*c, "ok-100", kSales, 100, "ok");
  AddBackup(*c, "ok-200", kSales, 200, "ok");
  AddBackup(*c, "failed-250", kSales, 250, "failed");
  AddBackup(*c, "ok-300", kSales, 300, "ok");
  AddBackup(*c, "failed-400", kSales, 400, "failed");
  AddBackup(*c, "running-500", kSales, 500, "running");
  AddBackup(*c, "other-db-350", "prod-dhanman-common", 350, "ok");

  auto id_at = [&](std::optional<UnixMicros> at) {
    auto b = c->FindBackupAt(kRepo, kSales, at);
    return b ? b->backup_id : std::string("none");
  };
  CHECK(id_at(std::nullopt) == "ok-300");  // latest: never the failed or running ones after it
  CHECK(id_at(1000) == "ok-300");
  CHECK(id_at(300) == "ok-300");  // at the exact snapshot time
  CHECK(id_at(299) == "ok-200");
  CHECK(id_at(260) == "ok-200");  // the failed 250 is skipped
  CHECK(id_at(100) == "ok-100");
  CHECK(id_at(99) == "none");
  CHECK_FALSE(c->FindBackupAt(kOtherRepo, kSales, std::nullopt));
  CHECK_FALSE(c->FindBackupAt(kRepo, "prod-dhanman-payroll", std::nullopt));

  auto earliest = c->EarliestGoodBackup(kRepo, kSales);
  REQUIRE(earliest);
  CHECK(earliest->backup_id == "ok-100");
  CHECK_FALSE(c->EarliestGoodBackup(kRepo, "prod-dhanman-payroll"));
}

TEST_CASE("catalog: ListBackups is newest first and filters by database and repository") {
  TempDir dir;
  auto c = Catalog::Open(dir.File("catalog.sqlite"));
  AddBackup(*c, "s1", kSales, 100, "ok");
  AddBackup(*c, "c1", "prod-dhanman-common", 150, "ok");
  AddBackup(*c, "s2", kSales, 200, "failed");
  AddBackup(*c, "s3", kSales, 300, "ok");
  // Failed before its snapshot: ordered by its start time.
  BackupRecord early_fail = Backup("s4", kSales, 250);
  c->BeginBackup(early_fail);
  early_fail.status = "failed";
  early_fail.error = "connection refused";
  c->FinishBackup(early_fail);
  BackupRecord elsewhere = Backup("x1", kSales, 999);
  elsewhere.repository = kOtherRepo;
  c->BeginBackup(elsewhere);

  std::vector<std::string> ids;
  for (const auto& b : c->ListBackups(kRepo, kSales)) ids.push_back(b.backup_id);
  CHECK(ids == std::vector<std::string>{"s3", "s4", "s2", "s1"});
  ids.clear();
  for (const auto& b : c->ListBackups(kRepo, std::nullopt)) ids.push_back(b.backup_id);
  CHECK(ids == std::vector<std::string>{"s3", "s4", "s2", "c1", "s1"});
  auto other = c->ListBackups(kOtherRepo, std::nullopt);
  REQUIRE(other.size() == 1);
  CHECK(other[0].backup_id == "x1");
  CHECK(other[0].repository == kOtherRepo);
  CHECK(c->ListBackups("file:///nowhere", std::nullopt).empty());
}

TEST_CASE("catalog: MarkInterrupted fails the running backups of one repository") {
  TempDir dir;
  auto c = Catalog::Open(dir.File("catalog.sqlite"));
  AddBackup(*c, "done", kSales, 100, "ok");
  AddBackup(*c, "r1", kSales, 200, "running");
  AddBackup(*c, "r2", "prod-dhanman-common", 300, "running");
  BackupRecord elsewhere = Backup("x1", kSales, 999);
  elsewhere.repository = kOtherRepo;
  c->BeginBackup(elsewhere);

  CHECK(c->MarkInterrupted(kRepo) == 2);
  for (const char* id : {"r1", "r2"}) {
    auto b = c->GetBackup(kRepo, id);
    REQUIRE(b);
    CHECK(b->status == "failed");
    CHECK(b->error == "interrupted");
  }
  CHECK(c->GetBackup(kRepo, "done")->status == "ok");
  CHECK(c->GetBackup(kOtherRepo, "x1")->status == "running");
  CHECK(c->MarkInterrupted(kRepo) == 0);
  CHECK(c->MarkInterrupted("file:///unknown") == 0);
  CHECK(c->FindBackupAt(kRepo, kSales, std::nullopt)->backup_id == "done");
}

TEST_CASE("catalog: UpsertBackup inserts or replaces (catalog rebuild)") {
  TempDir dir;
  auto c = Catalog::Open(dir.File("catalog.sqlite"));
  BackupRecord r = Backup("b1", kSales, 10);
  r.status = "ok";
  r.snapshot_time = 20;
  r.manifest_name = "manifests/b1";
  r.tables = {{"public", "t", 1, 2, "aa", 1}};
  c->UpsertBackup(r);
  CHECK(c->GetBackup(kRepo, "b1")->tables.size() == 1);

  r.rows = 42;
  r.tables = {{"public", "t", 1, 2, "aa", 1}, {"public", "u", 3, 4, "bb", 1}};
  c->UpsertBackup(r);
  auto got = c->GetBackup(kRepo, "b1");
  CHECK(got->rows == 42);
  CHECK(got->tables.size() == 2);
  CHECK(c->ListBackups(kRepo, std::nullopt).size() == 1);
}

TEST_CASE("catalog: DeleteBackup removes the backup and its tables") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  auto c = Catalog::Open(path);
  BackupRecord r = AddBackup(*c, "b1", kSales, 100, "ok");
  r.tables = {{"public", "t", 1, 2, "aa", 1}};
  c->FinishBackup(r);
  AddBackup(*c, "b2", kSales, 200, "ok");
  c->DeleteBackup(kRepo, "b1");
  c->DeleteBackup(kRepo, "b1");  // idempotent
  c->DeleteBackup(kOtherRepo, "b2");  // another repository's b2 does not exist
  CHECK_FALSE(c->GetBackup(kRepo, "b1"));
  CHECK(c->GetBackup(kRepo, "b2"));
  CHECK(RawQuery(path, "SELECT count(*) FROM backup_tables") == "0");
}

TEST_CASE("catalog: verifications, restores and prunes are recorded") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  auto c = Catalog::Open(path);
  CHECK_FALSE(c->LastVerification(kSales));
  c->RecordVerification({"b1", kSales, "ok", "", 100});
  c->RecordVerification({"b2", kSales, "failed", "table public.t differs", 300});
  c->RecordVerification({"b3", kSales, "ok", "", 200});  // recorded later, but older
  c->RecordVerification({"c1", "prod-dhanman-common", "ok", "", 500});
  auto last = c->LastVerification(kSales);
  REQUIRE(last);
  CHECK(last->backup_id == "b2");
  CHECK(last->status == "failed");
  CHECK(last->detail == "table public.t differs");
  CHECK(last->at == 300);

  // Point-in-time verifications are their own history: they do not stand in for the nightly one.
  CHECK_FALSE(c->LastPitrVerification(kSales));
  c->RecordPitrVerification({kSales, "base1", "ok", "12 tables match", 1000, 400, 42500});
  c->RecordPitrVerification({kSales, "base1", "failed", "table public.t differs", 900, 350, 0});
  c->RecordPitrVerification({"(cluster)", "base2", "ok", "pg_amcheck clean", 0, 500, 9000});
  auto pitr = c->LastPitrVerification(kSales);
  REQUIRE(pitr);
  CHECK(pitr->status == "ok");
  CHECK(pitr->target_time == 1000);
  CHECK(pitr->rto_millis == 42500);
  CHECK(pitr->base_backup_id == "base1");
  CHECK(c->LastVerification(kSales)->backup_id == "b2");
  CHECK(c->LastPitrVerification("(cluster)")->detail == "pg_amcheck clean");
  CHECK_THROWS_AS(c->RecordPitrVerification({kSales, "base1", "maybe", "", 0, 1, 0}), dhanbak::Error);

  c->RecordRestore({"b1", kSales, "prod-dhanman-sales_restored", "ok", "", 10, 20});
  CHECK(RawQuery(path, "SELECT target FROM restores") == "prod-dhanman-sales_restored");
  c->RecordPrune(1000, 3, 120, "kept 5 backups");
  CHECK(RawQuery(path, "SELECT chunks_deleted FROM prunes") == "120");
}

TEST_CASE("catalog: concurrent use from several threads") {
  TempDir dir;
  auto c = Catalog::Open(dir.File("catalog.sqlite"));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 25; ++i) {
        AddBackup(*c, "t" + std::to_string(t) + "-" + std::to_string(i), kSales, 1000 + t * 100 + i, "ok");
        c->ListBackups(kRepo, kSales);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(c->ListBackups(kRepo, kSales).size() == 100);
}

TEST_CASE("catalog: damaged chunks and lost backups are remembered per repository until cleared") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  auto c = Catalog::Open(path);
  CHECK(c->DamagedChunks(kRepo).empty());
  c->RecordDamagedChunk(kRepo, "bb", "object 'chunks/bb/bb' is missing from the repository");
  c->RecordDamagedChunk(kRepo, "aa", "first");
  c->RecordDamagedChunk(kRepo, "aa", "object 'chunks/aa/aa' is corrupted: authentication failed");  // again: updated
  c->RecordDamagedChunk(kOtherRepo, "cc", "elsewhere");
  auto damaged = c->DamagedChunks(kRepo);
  REQUIRE(damaged.size() == 2);
  CHECK(damaged[0].first == "aa");
  CHECK(damaged[0].second == "object 'chunks/aa/aa' is corrupted: authentication failed");
  CHECK(damaged[1].first == "bb");
  c->ClearDamagedChunk(kRepo, "aa");
  c->ClearDamagedChunk(kRepo, "never-recorded");
  REQUIRE(c->DamagedChunks(kRepo).size() == 1);
  CHECK(c->DamagedChunks(kOtherRepo).size() == 1);

  AddBackup(*c, "b1", kSales, 1000, "ok");
  AddBackup(*c, "b2", kSales, 2000, "ok");
  c->RecordLostBackup(kRepo, "b2");
  c->RecordLostBackup(kRepo, "b2");  // idempotent
  CHECK(c->LostBackups(kRepo) == std::vector<std::string>{"b2"});
  CHECK(c->LostBackups(kOtherRepo).empty());
  c->ClearLostBackup(kRepo, "b2");
  CHECK(c->LostBackups(kRepo).empty());
  c->RecordLostBackup(kRepo, "b2");
  c->DeleteBackup(kRepo, "b2");  // catalog rebuild forgets a lost backup: the mark goes with it
  CHECK(c->LostBackups(kRepo).empty());
  // Survives reopening (schema version 2).
  c.reset();
  auto again = Catalog::Open(path);
  CHECK(again->DamagedChunks(kRepo).size() == 1);
}

TEST_CASE("catalog: a version 1 catalog is migrated, keeping its backups") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  AddBackup(*Catalog::Open(path), "b1", kSales, 1000, "ok");
  RawQuery(path, "DROP TABLE damaged_chunks");
  RawQuery(path, "DROP TABLE lost_backups");
  RawQuery(path, "DROP TABLE base_backups");
  RawQuery(path, "DROP TABLE pitr_verifications");
  RawQuery(path, "PRAGMA user_version = 1");
  auto c = Catalog::Open(path);
  CHECK(c->SchemaVersion() == Catalog::LatestSchemaVersion());
  CHECK(c->ListBackups(kRepo, kSales).size() == 1);
  c->RecordDamagedChunk(kRepo, "aa", "x");
  CHECK(c->DamagedChunks(kRepo).size() == 1);
}

TEST_CASE("catalog: base backups are recorded, replaced by id, interrupted ones marked failed") {
  TempDir dir;
  const std::string path = dir.File("catalog.sqlite");
  auto c = Catalog::Open(path);
  BaseBackupRecord r;
  r.backup_id = "20240115T020000Z-aa";
  r.repository = kRepo;
  r.status = "running";
  r.started_at = 1000;
  c->RecordBaseBackup(r);
  r.backup_id = "20240116T020000Z-bb";
  r.started_at = 2000;
  c->RecordBaseBackup(r);
  r.status = "ok";
  CHECK_THROWS_AS(c->RecordBaseBackup(r), Error);  // ok needs a manifest
  r.manifest_name = "basebackups/20240116T020000Z-bb";
  r.stop_wal = "000000010000000000000007";
  c->RecordBaseBackup(r);
  CHECK(c->MarkBaseBackupsInterrupted(kRepo) == 1);
  auto list = c->ListBaseBackups(kRepo);
  REQUIRE(list.size() == 2);
  CHECK(list[0].backup_id == "20240116T020000Z-bb");
  CHECK(list[0].status == "ok");
  CHECK(list[0].stop_wal == "000000010000000000000007");
  CHECK(list[1].status == "failed");
  CHECK(list[1].error == "interrupted");
  CHECK(c->ListBaseBackups(kOtherRepo).empty());
  c->DeleteBaseBackup(kRepo, "20240115T020000Z-aa");
  CHECK(c->ListBaseBackups(kRepo).size() == 1);
}

}  // namespace dhanbak::catalog::catalog_test
