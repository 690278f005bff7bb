#include "command/restore.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "pg/connection.hpp"
#include "pg/database_properties.hpp"
#include "pg/pg_tools.hpp"
#include "pg/source_catalog.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {
namespace {

// A private temporary directory (0700) removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/dhanbak-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw Error(ErrorCode::kIo, "cannot create a temporary directory in " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void RunParallel(int n, std::atomic<bool>& failed, const std::function<void()>& fn) {
  std::mutex mu;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      try {
        fn();
      } catch (...) {
        failed = true;
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

std::unique_ptr<pg::PgConnection> AdminConnection(const std::string& conninfo) {
  try {
    return std::make_unique<pg::PgConnection>(conninfo, std::string("postgres"));
  } catch (const Error&) {
    return std::make_unique<pg::PgConnection>(conninfo, std::string("template1"));
  }
}

bool DatabaseExists(pg::PgConnection& admin, const std::string& name) {
  return !admin.Query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {name}).empty();
}

void DropDatabase(const std::string& conninfo, const std::string& name) {
  try {
    auto admin = AdminConnection(conninfo);
    admin->Exec("DROP DATABASE IF EXISTS " + pg::QuoteIdent(name) + " WITH (FORCE)");
    log::Info("dropped the incomplete database " + name);
  } catch (const std::exception& e) {
    log::Error("could not drop the incomplete database " + name + ": " + e.what() + " — drop it by hand");
  }
}

class Restorer {
 public:
  Restorer(Context& ctx, const format::Manifest& m, std::string conninfo, std::string target, int jobs)
      : ctx_(ctx), m_(m), conninfo_(std::move(conninfo)), target_(std::move(target)), jobs_(jobs),
        fetcher_(ctx.repository(), static_cast<size_t>(std::max({2, jobs * 2, ctx.config().b2.connections})), 4) {}

  void Run(bool verify, RestoreResult& result);

 private:
  void FetchArchive(const std::string& path);
  void LoadTables();
  void Verify(RestoreResult& result);
  pg::ToolTarget Tool() const { return {conninfo_, target_, version_}; }

  Context& ctx_;
  const format::Manifest& m_;
  std::string conninfo_;
  std::string target_;
  int jobs_;
  int version_ = 0;
  stream::ChunkFetcher fetcher_;
  std::atomic<bool> failed_{false};
};

void Restorer::FetchArchive(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + path + "'");
  fetcher_.Stream(m_.schema, "schema archive", [&](std::string_view d) { out.write(d.data(), static_cast<std::streamsize>(d.size())); });
  out.close();
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + path + "' (disk full?)");
}

void Restorer::LoadTables() {
  std::atomic<size_t> next{0};
  int64_t total = 0;
  for (const auto& t : m_.tables) total += t.data.bytes;
  Progress progress("restore " + target_, total);
  int workers = std::max(1, std::min<int>(jobs_, static_cast<int>(m_.tables.size())));
  RunParallel(workers, failed_, [&] {
    pg::PgConnection conn(conninfo_, target_);
    conn.ApplySessionSettings();
    conn.Exec("SET synchronous_commit = off");
    for (size_t i = next++; i < m_.tables.size() && !failed_; i = next++) {
      ThrowIfInterrupted();
      const auto& t = m_.tables[i];
      conn.Exec("BEGIN");
      conn.CopyInBegin(pg::CopyFromSql(t.schema, t.name, t.columns));
      try {
        // The stream's hash is checked after its last chunk, before COMMIT: a corrupted
        // backup never leaves a committed table behind.
        fetcher_.Stream(t.data, "table " + t.schema + "." + t.name, [&](std::string_view d) {
          conn.CopyInPut(d);
          progress.Add(static_cast<int64_t>(d.size()));
        });
      } catch (...) {
        conn.CopyInAbort("dhanbak: restore aborted");
        throw;
      }
      conn.CopyInEnd();
      conn.Exec("COMMIT");
    }
  });
}

void Restorer::Verify(RestoreResult& result) {
  result.verdicts.resize(m_.tables.size());
  std::atomic<size_t> next{0};
  int workers = std::max(1, std::min<int>(jobs_, static_cast<int>(m_.tables.size())));
  std::atomic<bool> failed{false};
  RunParallel(workers, failed, [&] {
    pg::PgConnection conn(conninfo_, target_);
    conn.ApplySessionSettings();
    conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    for (size_t i = next++; i < m_.tables.size(); i = next++) {
      ThrowIfInterrupted();
      const auto& t = m_.tables[i];
      crypto::Digest digest;
      int64_t rows = 0, bytes = 0;
      conn.CopyOut(pg::CopyToSql(t.schema, t.name, t.columns), [&](std::string_view d) {
        digest.Update(d);
        bytes += static_cast<int64_t>(d.size());
        rows += std::count(d.begin(), d.end(), '\n');
      });
      TableVerdict& v = result.verdicts[i];
      v.table = t.schema + "." + t.name;
      v.expected_rows = t.rows;
      v.actual_rows = rows;
      std::string sha = digest.FinishHex();
      v.ok = rows == t.rows && bytes == t.data.bytes && sha == t.data.sha256;
      if (!v.ok) {
        v.detail = rows != t.rows ? "row count differs" : "content differs (SHA-256 mismatch)";
      }
    }
    conn.Exec("COMMIT");
  });
  result.verified = true;
  for (const auto& v : result.verdicts) result.ok = result.ok && v.ok;
}

void Restorer::Run(bool verify, RestoreResult& result) {
  auto admin = AdminConnection(conninfo_);
  version_ = admin->server_version_num();
  if (DatabaseExists(*admin, target_)) {
    throw Error(ErrorCode::kInvalidArgument, "target database '" + target_ +
                                                 "' already exists; choose another --target-db (dhanbak never overwrites a database)");
  }
  TempDir tmp;
  std::string archive = tmp.path() + "/schema.dump";
  FetchArchive(archive);
  ThrowIfInterrupted();
  admin->Exec(pg::CreateDatabaseSql(target_, m_.properties));
  try {
    log::Info("restoring schema (pre-data) into " + target_);
    pg::RestoreSection(Tool(), archive, "pre-data", 1);
    ThrowIfInterrupted();
    log::Info("loading " + std::to_string(m_.tables.size()) + " tables with " + std::to_string(jobs_) + " job(s)");
    LoadTables();
    ThrowIfInterrupted();
    log::Info("restoring sequences, large objects (data section)");
    pg::RestoreSection(Tool(), archive, "data", 1);
    ThrowIfInterrupted();
    log::Info("building indexes, constraints and triggers (post-data)");
    pg::RestoreSection(Tool(), archive, "post-data", jobs_);
    ThrowIfInterrupted();
    for (const auto& sql : pg::DatabasePropertiesSql(target_, m_.properties)) admin->Exec(sql);
    if (verify) {
      log::Info("verifying every table against the manifest");
      Verify(result);
      if (!result.ok) throw Error(ErrorCode::kVerification, "verification of " + target_ + " found differences");
    }
  } catch (...) {
    admin.reset();
    for (const auto& v : result.verdicts) {
      if (!v.ok && !v.table.empty()) log::Error("table " + v.table + ": " + v.detail);
    }
    DropDatabase(conninfo_, target_);
    throw;
  }
}

}  // namespace

catalog::BackupRecord SelectBackup(Context& ctx, const std::string& database, const std::optional<std::string>& at,
                                   const std::optional<std::string>& backup_id) {
  std::string repo = ctx.repository_url();
  auto& cat = ctx.catalog();
  if (backup_id) {
    auto b = cat.GetBackup(repo, *backup_id);
    if (!b || b->database != database) {
      throw Error(ErrorCode::kNotFound, "no backup '" + *backup_id + "' of database " + database + " in the catalog");
    }
    if (b->status != "ok") {
      throw Error(ErrorCode::kNotFound, "backup '" + *backup_id + "' is not restorable (status " + b->status + ")");
    }
    return *b;
  }
  TimeSpec spec = ParseTimeSpec(at.value_or("latest"), NowMicros());
  auto found = cat.FindBackupAt(repo, database, spec.latest ? std::nullopt : std::optional<UnixMicros>(spec.at));
  if (!found) {
    auto earliest = cat.EarliestGoodBackup(repo, database);
    if (!earliest) {
      throw Error(ErrorCode::kNotFound, "no good backup of database " + database + " in the catalog of " + repo +
                                            " (if the catalog was lost, run 'dhanbak catalog rebuild')");
    }
    throw Error(ErrorCode::kNotFound, "no backup of " + database + " at or before " + FormatLocalTime(spec.at) +
                                          "; the earliest is " + earliest->backup_id + " taken " +
                                          FormatLocalTime(earliest->snapshot_time));
  }
  return *ctx.catalog().GetBackup(repo, found->backup_id);
}

RestoreResult RestoreInto(Context& ctx, const format::Manifest& manifest, const std::string& conninfo,
                          const std::string& target, int jobs, bool verify) {
  RestoreResult result;
  Restorer(ctx, manifest, conninfo, target, jobs).Run(verify, result);
  return result;
}

int RunRestore(Context& ctx, const RestoreOptions& o) {
  if (!o.target_db) {
    throw Error(ErrorCode::kInvalidArgument, "restore needs --target-db NAME (a new database to restore into)");
  }
  int jobs = o.jobs.value_or(ctx.config().postgres.jobs);
  if (jobs < 1) throw Error(ErrorCode::kInvalidArgument, "--jobs must be at least 1");
  auto locks = ctx.Lock(LockMode::kShared);
  catalog::BackupRecord backup = SelectBackup(ctx, o.database, o.at, o.backup_id);
  log::Info("restoring " + o.database + " from backup " + backup.backup_id + " taken " +
            FormatLocalTime(backup.snapshot_time) + " into " + *o.target_db);
  format::Manifest manifest = ctx.repository().GetManifest(backup.backup_id);
  std::string conninfo = o.target_conninfo.value_or(ctx.config().postgres.conninfo);
  catalog::RestoreRecord rec{backup.backup_id, o.database, *o.target_db, "running", "", NowMicros(), 0};
  try {
    RestoreResult result = RestoreInto(ctx, manifest, conninfo, *o.target_db, jobs, o.verify);
    for (const auto& v : result.verdicts) {
      std::cout << (v.ok ? "ok      " : "DIFFERS ") << v.table << "  " << v.actual_rows << " rows" << "\n";
    }
    std::cout << "restored " << o.database << " (backup " << backup.backup_id << ") into " << *o.target_db
              << (result.verified ? ": all " + std::to_string(result.verdicts.size()) + " tables verified" : ": not verified")
              << "\n";
    rec.status = "ok";
  } catch (const Error& e) {
    rec.status = "failed";
    rec.detail = e.what();
    rec.finished_at = NowMicros();
    ctx.catalog().RecordRestore(rec);
    throw;
  }
  rec.finished_at = NowMicros();
  ctx.catalog().RecordRestore(rec);
  return 0;
}

}  // namespace dhanbak::command
