#include "command/backup.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command/manifest_record.hpp"
#include "command/parallel.hpp"
#include "command/transfer_width.hpp"
#include "common/encoding.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "common/test_pause.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "format/run_lock.hpp"
#include "notify/notifier.hpp"
#include "pg/connection.hpp"
#include "pg/pg_tools.hpp"
#include "pg/rebuilt_tables.hpp"
#include "pg/source_catalog.hpp"
#include "pg/standby.hpp"
#include "pg/table_layout.hpp"
#include "stream/chunk_uploader.hpp"
#include "stream/stream_writer.hpp"

namespace dhanbak::command {

std::string NewBackupId(UnixMicros now) {
  std::string iso = FormatUtcIso(now);  // 2024-01-15T02:00:00.123456Z
  std::string compact;
  for (char c : iso.substr(0, 19)) {
    if (c != '-' && c != ':') compact += c;
  }
  return compact + "Z-" + HexEncode(crypto::RandomBytes(4));
}

namespace {

constexpr int kLeaderLockTimeoutSeconds = 60;
constexpr size_t kTablesPerTransaction = 50;  // tables a COPY worker locks before it commits

// Cancels the running queries of registered connections when a signal arrives, so that a
// worker blocked on the server (a lock wait, a slow COPY) unwinds promptly.
class CancelWatch {
 public:
  CancelWatch() : thread_([this] { Run(); }) {}
  ~CancelWatch() {
    stop_ = true;
    thread_.join();
  }
  void Add(pg::PgConnection* c) {
    std::lock_guard<std::mutex> lock(mu_);
    conns_.push_back(c);
  }
  void Remove(pg::PgConnection* c) {
    std::lock_guard<std::mutex> lock(mu_);
    conns_.erase(std::remove(conns_.begin(), conns_.end(), c), conns_.end());
  }

 private:
  void Run() {
    bool cancelled = false;
    while (!stop_) {
      if (Interrupted() && !cancelled) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto* c : conns_) c->Cancel();
        cancelled = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::mutex mu_;
  std::vector<pg::PgConnection*> conns_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Registered {
  CancelWatch& watch;
  pg::PgConnection* conn;
  Registered(CancelWatch& w, pg::PgConnection* c) : watch(w), conn(c) { watch.Add(conn); }
  ~Registered() { watch.Remove(conn); }
};

class DatabaseBackup {
 public:
  DatabaseBackup(Context& ctx, stream::ChunkUploader& uploader, format::RunLock& run_lock,
                 const format::StreamRef& globals, std::string database, int jobs)
      : ctx_(ctx), uploader_(uploader), run_lock_(run_lock), globals_(globals), database_(std::move(database)),
        jobs_(jobs) {}

  catalog::BackupRecord Run();

 private:
  void TakeSnapshot(pg::PgConnection& leader);
  void ReadLayouts(pg::PgConnection& leader, const std::string& snapshot, const std::vector<pg::TableInfo>& tables);
  void DumpSchema(const std::string& snapshot, const std::vector<pg::TableInfo>& tables);
  void LockForCopy(pg::PgConnection& conn, const pg::TableInfo& t);
  std::string ExclusiveWaiter(const std::string& oid_sql, const std::string& arg);
  std::string StopsHere() const;
  void SecureChunks();
  void CheckLockTable(pg::PgConnection& leader, size_t data_tables);
  void CopyTables(const std::string& snapshot, const std::vector<pg::TableInfo>& tables, Progress& progress);
  void LoadPreviousStreams();

  Context& ctx_;
  stream::ChunkUploader& uploader_;
  format::RunLock& run_lock_;
  const format::StreamRef& globals_;
  std::string database_;
  int jobs_;
  format::Manifest manifest_;
  std::map<std::string, std::vector<std::string>> layouts_;  // table oid → column layout
  std::map<std::string, std::string> definitions_;           // table oid → own definition
  // The previous backup's table streams, by (schema, name): what new chunks are deltas against.
  std::map<std::pair<std::string, std::string>, format::StreamRef> previous_tables_;
  CancelWatch cancel_;
  std::atomic<bool> failed_{false};
};

// Fails early, and says what to change, when the server's shared lock table cannot hold the
// locks this backup takes at once: the leader and pg_dump each lock every table (as pg_dump
// alone would), each worker up to kTablesPerTransaction. Running out mid-backup instead fails
// with "out of shared memory" — and can fail the production sessions that need a lock then.
void DatabaseBackup::CheckLockTable(pg::PgConnection& leader, size_t data_tables) {
  auto rows = leader.Query(
      "SELECT current_setting('max_locks_per_transaction')::bigint, "
      "current_setting('max_connections')::bigint + current_setting('autovacuum_max_workers')::bigint + 1 + "
      "current_setting('max_worker_processes')::bigint + current_setting('max_wal_senders')::bigint + "
      "current_setting('max_prepared_transactions')::bigint, "
      "(SELECT count(*) FROM pg_catalog.pg_class WHERE relkind IN ('r', 'p') AND relpersistence <> 't' "
      "AND relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)), "
      "(SELECT count(*) FROM pg_catalog.pg_locks WHERE NOT fastpath)");
  auto number = [&](size_t column) { return std::stoll(rows.at(0).at(column).value_or("0")); };
  const int64_t per_process = number(0), processes = number(1), relations = number(2), in_use = number(3);
  const int64_t capacity = per_process * processes;
  const int64_t needed = static_cast<int64_t>(data_tables) + relations + static_cast<int64_t>(kTablesPerTransaction) * jobs_;
  if (needed + in_use <= capacity) return;
  const int64_t wanted = ((needed + in_use) / processes / 64 + 1) * 64;
  throw Error(ErrorCode::kPg,
              "database " + database_ + " has " + std::to_string(relations) + " tables: its backup holds about " +
                  std::to_string(needed) + " locks at once (the snapshot session and pg_dump each lock every one), "
                  "but the server's lock table holds " + std::to_string(capacity) + " (max_locks_per_transaction = " +
                  std::to_string(per_process) + " x " + std::to_string(processes) + " server processes), " +
                  std::to_string(in_use) + " of them in use now. Raise it, then restart PostgreSQL: "
                  "ALTER SYSTEM SET max_locks_per_transaction = " + std::to_string(wanted));
}

// The manifest may only name chunks that exist. While the run's repository lock is intact no
// prune can have deleted any (docs/decisions.md, "Prune and backups on many hosts"); once it was
// lost, the lock is taken again (waiting out a running prune) and every chunk is looked up anew.
void DatabaseBackup::SecureChunks() {
  if (run_lock_.Intact()) return;
  log::Warning("backup of " + database_ + ": the repository lock was lost while the backup ran; taking it again "
               "and checking that every chunk it needs is still stored");
  run_lock_.Reacquire();
  std::vector<std::string> needed;
  auto add = [&](const format::StreamRef& ref) {
    auto ids = ref.NeededChunks();
    needed.insert(needed.end(), ids.begin(), ids.end());
  };
  add(manifest_.schema);
  add(manifest_.globals);
  for (const auto& t : manifest_.tables) add(t.data);
  auto missing = uploader_.Resync(needed);
  if (!missing.empty()) {
    throw Error(ErrorCode::kLocked, std::to_string(missing.size()) + " chunk(s) this backup needs (e.g. " +
                                        format::Repository::ChunkName(missing.front()) +
                                        ") were deleted while it ran, by a prune that judged its repository lock "
                                        "abandoned: the backup is not stored; the next run stores them again");
  }
}

catalog::BackupRecord DatabaseBackup::Run() {
  const Config& config = ctx_.config();
  format::Repository& repo = ctx_.repository();
  catalog::BackupRecord rec;
  rec.started_at = NowMicros();
  rec.backup_id = NewBackupId(rec.started_at);
  log::Subject::SetBackupId(rec.backup_id);
  rec.repository = ctx_.repository_url();
  rec.database = database_;
  rec.status = "running";
  ctx_.catalog().BeginBackup(rec);
  log::Info("backing up " + database_ + " as " + rec.backup_id);
  int64_t stored_before = uploader_.stored_bytes(), new_before = uploader_.new_chunks(),
          deltas_before = uploader_.delta_chunks();
  try {
    pg::PgConnection leader(config.postgres.conninfo, database_);
    Registered reg(cancel_, &leader);
    leader.ApplySessionSettings();
    leader.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    std::string snapshot = leader.QueryValue("SELECT pg_catalog.pg_export_snapshot()");
    manifest_.snapshot_time = std::stoll(leader.QueryValue(
        "SELECT (extract(epoch FROM pg_catalog.transaction_timestamp()) * 1000000)::bigint"));
    if (auto standby = pg::ReadStandbySource(leader)) {
      // A standby behind its primary holds the data of its last replayed commit, not of now:
      // the backup claims that older time, so `restore --at` never takes it for newer data.
      if (standby->replay_lag_seconds > 0 && standby->last_replay_at > 0) {
        manifest_.snapshot_time = std::min(manifest_.snapshot_time, standby->last_replay_at);
      }
      char lag[32];
      std::snprintf(lag, sizeof lag, "%.1f", standby->replay_lag_seconds);
      log::Info("backing up " + database_ + " from a hot standby, replayed to " + standby->replay_lsn + " (" + lag +
                " s behind what it received)");
      manifest_.standby = std::move(standby);
    }
    TestPausePoint("backup-snapshot");
    auto tables = pg::ListDataTables(leader);
    CheckLockTable(leader, tables.size());
    // Like pg_dump: ACCESS SHARE locks keep the tables from being dropped or altered while the
    // workers read them; they do not block reads or writes.
    // A bounded wait: an exclusive lock held for long must fail this database, not hold the
    // leader's queued request (and every session queued behind it) for the whole night.
    leader.Exec("SET lock_timeout = '" + std::to_string(kLeaderLockTimeoutSeconds) + "s'");
    for (size_t i = 0; i < tables.size(); i += 500) {
      std::string sql = "LOCK TABLE ";
      for (size_t j = i; j < std::min(tables.size(), i + 500); ++j) {
        if (j > i) sql += ", ";
        sql += "ONLY " + pg::QualifiedName(tables[j].schema, tables[j].name);
      }
      leader.Exec(sql + " IN ACCESS SHARE MODE");
    }
    leader.Exec("SET lock_timeout = 0");
    manifest_.properties = pg::ReadDatabaseProperties(leader);
    ReadLayouts(leader, snapshot, tables);
    manifest_.server_version_num = leader.server_version_num();
    manifest_.server_version = leader.QueryValue("SHOW server_version");
    manifest_.pg_dump_version = pg::PgDumpVersion(manifest_.server_version_num);
    manifest_.backup_id = rec.backup_id;
    manifest_.database = database_;
    manifest_.started_at = rec.started_at;
    manifest_.globals = globals_;

    LoadPreviousStreams();
    int64_t expected = 0;
    for (const auto& t : tables) expected += t.size_bytes;
    Progress progress("backup " + database_, expected);
    std::thread schema_thread;
    std::exception_ptr schema_error;
    schema_thread = std::thread([&] {
      try {
        DumpSchema(snapshot, tables);
      } catch (...) {
        schema_error = std::current_exception();
        failed_ = true;
      }
    });
    try {
      CopyTables(snapshot, tables, progress);
    } catch (...) {
      failed_ = true;
      schema_thread.join();
      throw;
    }
    schema_thread.join();
    if (schema_error) std::rethrow_exception(schema_error);
    uploader_.Flush();
    for (auto& t : manifest_.tables) uploader_.RecordBases(t.data);
    ThrowIfInterrupted();
    leader.Exec("COMMIT");

    manifest_.finished_at = NowMicros();
    SecureChunks();
    TestPausePoint("backup-manifest");
    repo.PutManifest(manifest_);  // the backup exists from this moment on
    try {
      SecureChunks();  // a lock lost just before the manifest: check again now that it is stored
    } catch (...) {
      try {
        ctx_.storage().Remove(format::Repository::ManifestName(manifest_.backup_id));
      } catch (const std::exception& e) {
        log::Error("could not withdraw the manifest of incomplete backup " + manifest_.backup_id + ": " + e.what());
      }
      throw;
    }

    rec = RecordFromManifest(manifest_, rec.repository);
    rec.stored_bytes = uploader_.stored_bytes() - stored_before;
    rec.new_chunks = uploader_.new_chunks() - new_before;
    ctx_.catalog().FinishBackup(rec);
    log::Info("backed up " + database_ + ": " + std::to_string(rec.tables.size()) + " tables, " +
              std::to_string(rec.rows) + " rows, " + log::FormatBytes(static_cast<double>(rec.logical_bytes)) +
              " logical, " + log::FormatBytes(static_cast<double>(rec.stored_bytes)) + " newly stored in " +
              std::to_string(rec.new_chunks) + " chunk(s), " + std::to_string(uploader_.delta_chunks() - deltas_before) +
              " of them as deltas");
    return rec;
  } catch (const std::exception& e) {
    rec.status = "failed";
    rec.finished_at = NowMicros();
    rec.error = e.what();
    rec.manifest_name.clear();
    try {
      ctx_.catalog().FinishBackup(rec);
    } catch (const std::exception& ce) {
      log::Error("cannot record the failure in the catalog: " + std::string(ce.what()));
    }
    throw;
  }
}

// Only an optimisation: without the previous manifest every new chunk is stored whole.
void DatabaseBackup::LoadPreviousStreams() {
  try {
    auto previous = ctx_.catalog().FindBackupAt(ctx_.repository_url(), database_, std::nullopt);
    if (!previous) return;
    format::Manifest m = ctx_.repository().GetManifest(previous->backup_id);
    for (auto& t : m.tables) previous_tables_.emplace(std::make_pair(t.schema, t.name), std::move(t.data));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    log::Warning("backup of " + database_ + ": the previous backup's manifest cannot be read (" + e.what() +
                 "); changed chunks are stored whole");
  }
}

// Column layouts for verification, and the exact definitions of inheritance children whose
// column order pg_dump's ordinary script would change (pg/table_layout.hpp).
void DatabaseBackup::ReadLayouts(pg::PgConnection& leader, const std::string& snapshot,
                                 const std::vector<pg::TableInfo>& tables) {
  auto layouts = pg::ReadColumnLayouts(leader);
  layouts_ = std::move(layouts.by_oid);
  std::vector<std::pair<std::string, std::string>> rebuild;
  for (const auto& oid : layouts.rebuild_oids) {
    for (const auto& t : tables) {
      if (t.oid == oid) rebuild.emplace_back(t.schema, t.name);
    }
  }
  if (rebuild.empty()) return;
  std::string script = pg::DumpUpgradeDefinitions(
      {ctx_.config().postgres.conninfo, database_, leader.server_version_num()}, snapshot, rebuild);
  for (const auto& t : tables) {
    for (const auto& [schema, name] : rebuild) {
      if (t.schema != schema || t.name != name) continue;
      std::string def = pg::ExtractTableDefinition(script, schema, name);
      if (def.empty()) {
        throw Error(ErrorCode::kPg, "pg_dump --binary-upgrade gave no definition of table " + schema + "." + name);
      }
      definitions_[t.oid] = def;
      log::Debug("table " + schema + "." + name + ": column order kept with its own definition");
    }
  }
}

void DatabaseBackup::DumpSchema(const std::string& snapshot, const std::vector<pg::TableInfo>& tables) {
  const Config& config = ctx_.config();
  std::vector<std::pair<std::string, std::string>> excluded;
  for (const auto& t : tables) excluded.emplace_back(t.schema, t.name);
  stream::StreamWriter writer(uploader_, ctx_.repository().chunker_params(), false);
  try {
    pg::DumpSchemaArchive({config.postgres.conninfo, database_, manifest_.server_version_num}, snapshot, excluded,
                          [&](std::string_view data) {
                            if (failed_) throw Error(ErrorCode::kInterrupted, "schema dump stopped");
                            writer.Write(data);
                          });
  } catch (const Error& e) {
    // pg_dump gave up waiting for a table lock: name the table and the session, as the workers do.
    std::string what = e.what();
    size_t at = what.find("LOCK TABLE ");
    // pg_dump's --lock-wait-timeout is a statement_timeout around its LOCK TABLE statements.
    bool timed_out = what.find("lock timeout") != std::string::npos || what.find("statement timeout") != std::string::npos;
    if (!timed_out || at == std::string::npos) throw;
    size_t end = what.find(" IN ACCESS SHARE MODE", at);
    std::string table = what.substr(at + 11, end == std::string::npos ? std::string::npos : end - at - 11);
    if (table.starts_with("ONLY ")) table = table.substr(5);
    throw Error(ErrorCode::kPg, "table " + table + " is wanted for an exclusive lock by " +
                                    ExclusiveWaiter("SELECT to_regclass($1)::oid", table) + StopsHere());
  }
  manifest_.schema = writer.Finish();
}

// Who holds or waits for an ACCESS EXCLUSIVE lock on the relation `oid_sql` ($1 = `arg`) yields.
std::string DatabaseBackup::ExclusiveWaiter(const std::string& oid_sql, const std::string& arg) {
  try {
    pg::PgConnection probe(ctx_.config().postgres.conninfo, database_);
    auto rows = probe.Query(
        "SELECT a.pid::text, coalesce(a.usename, ''), coalesce(a.application_name, ''), "
        "left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80) "
        "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'relation' AND l.relation = (" + oid_sql + ") AND l.mode = 'AccessExclusiveLock' "
        "ORDER BY l.granted DESC LIMIT 1",
        {arg});
    if (!rows.empty()) {
      const auto& r = rows[0];
      return "session " + *r[0] + " (user " + *r[1] + (r[2]->empty() ? "" : ", " + *r[2]) + ": " + *r[3] + ")";
    }
  } catch (const std::exception&) {
    // The table is still named; the session could not be.
  }
  return "another session";
}

std::string DatabaseBackup::StopsHere() const {
  return "; the backup of " + database_ +
         " stops here rather than block it and every query after it (run the backup again once that statement "
         "is done)";
}

// A worker takes its table's lock with NOWAIT before COPY, as pg_dump's workers do. The leader
// already holds ACCESS SHARE; if another session has queued for an exclusive lock since (ALTER
// TABLE, TRUNCATE, VACUUM FULL, DROP of a partition), a waiting COPY would queue behind it, it
// behind the leader, and the leader behind this worker: a wait PostgreSQL cannot see as a
// deadlock, blocking the DDL and every later query on the table. Instead this database's backup
// fails at once, naming the table and the session, and releases everything.
void DatabaseBackup::LockForCopy(pg::PgConnection& conn, const pg::TableInfo& t) {
  std::string state, message;
  if (conn.TryExec("LOCK TABLE ONLY " + pg::QualifiedName(t.schema, t.name) + " IN ACCESS SHARE MODE NOWAIT", state,
                   message)) {
    return;
  }
  if (state != "55P03") throw Error(ErrorCode::kPg, "cannot lock table " + t.schema + "." + t.name + ": " + message);
  std::string who = ExclusiveWaiter("$1::oid", t.oid);
  throw Error(ErrorCode::kPg, "table " + t.schema + "." + t.name + " is wanted for an exclusive lock by " + who +
                                  StopsHere());
}

void DatabaseBackup::CopyTables(const std::string& snapshot, const std::vector<pg::TableInfo>& tables,
                                Progress& progress) {
  const Config& config = ctx_.config();
  manifest_.tables.resize(tables.size());
  std::atomic<size_t> next{0};
  int workers = std::max(1, std::min<int>(jobs_, static_cast<int>(tables.size())));
  RunParallel(workers, failed_, [&] {
    pg::PgConnection conn(config.postgres.conninfo, database_);
    Registered reg(cancel_, &conn);
    std::string encoding = conn.ApplySessionSettings();
    // Locks last until the transaction ends: a fresh transaction (on the same exported snapshot)
    // every kTablesPerTransaction tables bounds what a worker holds in the server's lock table.
    size_t in_transaction = 0;
    auto begin = [&] {
      conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      conn.Exec("SET TRANSACTION SNAPSHOT " + pg::QuoteLiteral(snapshot));
      in_transaction = 0;
    };
    begin();
    for (size_t i = next++; i < tables.size() && !failed_; i = next++) {
      ThrowIfInterrupted();
      const auto& t = tables[i];
      if (in_transaction == kTablesPerTransaction) {
        conn.Exec("COMMIT");
        begin();
      }
      ++in_transaction;
      LockForCopy(conn, t);
      auto previous = previous_tables_.find({t.schema, t.name});
      stream::StreamWriter writer(uploader_, ctx_.repository().chunker_params(), true,
                                  previous == previous_tables_.end() ? nullptr : &previous->second);
      conn.CopyOut(pg::CopyToSql(t.schema, t.name, t.columns, encoding), [&](std::string_view row) {
        writer.Write(row);
        progress.Add(static_cast<int64_t>(row.size()));
      });
      format::TableEntry& e = manifest_.tables[i];
      e.schema = t.schema;
      e.name = t.name;
      e.columns = t.columns;
      e.persistence = t.persistence;
      e.oid = t.oid;
      if (auto l = layouts_.find(t.oid); l != layouts_.end()) e.layout = l->second;
      if (auto d = definitions_.find(t.oid); d != definitions_.end()) e.definition = d->second;
      e.rows = writer.rows();
      e.data = writer.Finish();
      log::Debug("table " + t.schema + "." + t.name + ": " + std::to_string(e.rows) + " rows");
    }
    conn.Exec("COMMIT");
  });
  ThrowIfInterrupted();
}

format::StreamRef CaptureGlobals(Context& ctx, stream::ChunkUploader& uploader, const std::string& first_db) {
  const Config& config = ctx.config();
  try {
    pg::PgConnection probe(config.postgres.conninfo, first_db);
    stream::StreamWriter writer(uploader, ctx.repository().chunker_params(), false);
    pg::DumpGlobals({config.postgres.conninfo, first_db, probe.server_version_num()},
                    [&](std::string_view d) { writer.Write(d); });
    return writer.Finish();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    log::Warning("cluster globals (roles, tablespaces) were not captured: " + std::string(e.what()));
    return {};
  }
}

// Chunks that a restore, verify, export or check found missing or corrupted must not be
// deduplicated against: this run stores them again when it meets the same data.
size_t DistrustDamagedChunks(Context& ctx, stream::ChunkUploader& uploader) {
  std::vector<std::string> ids;
  for (const auto& [id, detail] : ctx.catalog().DamagedChunks(ctx.repository_url())) ids.push_back(id);
  if (!ids.empty()) {
    uploader.Distrust(ids);
    log::Warning(std::to_string(ids.size()) + " chunk(s) were found damaged earlier: this run stores each of them "
                 "again if it meets the same data");
  }
  return ids.size();
}

void ClearRestoredChunks(Context& ctx, stream::ChunkUploader& uploader) {
  auto restored = uploader.TakeRestored();
  for (const auto& id : restored) {
    ctx.catalog().ClearDamagedChunk(ctx.repository_url(), id);
    log::Info("stored damaged chunk '" + format::Repository::ChunkName(id) +
              "' again: backups that need it can read it again");
  }
}

// A run that died after storing its manifest but before updating the catalog left a good backup
// marked "running": the manifest in storage decides, so it is recorded as the good backup it is
// instead of being marked failed with the other interrupted runs.
void ReconcileFinishedBackups(Context& ctx) {
  std::string url = ctx.repository_url();
  for (const auto& b : ctx.catalog().ListBackups(url, std::nullopt)) {
    if (b.status != "running") continue;
    try {
      if (!ctx.storage().Stat(format::Repository::ManifestName(b.backup_id))) continue;
      format::Manifest m = ctx.repository().GetManifest(b.backup_id);
      ctx.catalog().UpsertBackup(RecordFromManifest(m, url));
      log::Warning("backup " + b.backup_id + " of " + b.database +
                   " had been stored completely by a run that then died; recorded as good");
    } catch (const Error& e) {
      log::Warning("cannot check whether interrupted backup " + b.backup_id + " was stored: " + e.what());
    }
  }
}

void RecordEarlyFailure(Context& ctx, const std::string& database, const std::string& error) {
  try {
    catalog::BackupRecord rec;
    rec.started_at = NowMicros();
    rec.backup_id = NewBackupId(rec.started_at);
    rec.repository = ctx.repository_url();
    rec.database = database;
    rec.status = "running";
    ctx.catalog().BeginBackup(rec);
    rec.status = "failed";
    rec.finished_at = NowMicros();
    rec.error = "the backup run failed before reaching this database: " + error;
    ctx.catalog().FinishBackup(rec);
  } catch (const std::exception& ce) {
    log::Error("cannot record the failure in the catalog: " + std::string(ce.what()));
  }
}

// What one database's part of the run came to, for the log, `--json` and notifications.
struct DatabaseResult {
  std::string database;
  std::string status = "not_attempted";  // ok | failed | not_attempted (an interrupt came first)
  catalog::BackupRecord record;          // when ok
  std::string error;
  double duration_seconds = 0;
};

void PrintJson(Context& ctx, const std::vector<DatabaseResult>& results, UnixMicros started) {
  UnixMicros finished = NowMicros();
  nlohmann::json dbs = nlohmann::json::array();
  int64_t ok = 0, failed = 0, not_attempted = 0, logical = 0, stored = 0, new_chunks = 0;
  for (const auto& r : results) {
    nlohmann::json d{{"database", r.database}, {"status", r.status}, {"duration_seconds", r.duration_seconds}};
    if (r.status == "ok") {
      ++ok;
      d["backup_id"] = r.record.backup_id;
      d["snapshot_time"] = FormatUtcIso(r.record.snapshot_time);
      d["tables"] = r.record.tables.size();
      d["rows"] = r.record.rows;
      d["logical_bytes"] = r.record.logical_bytes;
      d["stored_bytes"] = r.record.stored_bytes;
      d["new_chunks"] = r.record.new_chunks;
      logical += r.record.logical_bytes;
      stored += r.record.stored_bytes;
      new_chunks += r.record.new_chunks;
    } else {
      (r.status == "failed" ? failed : not_attempted) += 1;
      d["error"] = r.error;
    }
    dbs.push_back(std::move(d));
  }
  int sig = InterruptSignal();
  nlohmann::json out{{"command", "backup"},
                     {"repository", ctx.repository_url()},
                     {"ok", failed == 0 && not_attempted == 0 && !results.empty()},
                     {"interrupted", sig == 0 ? nlohmann::json(nullptr) : nlohmann::json(sig == SIGINT ? "SIGINT" : "SIGTERM")},
                     {"started_at", FormatUtcIso(started)},
                     {"finished_at", FormatUtcIso(finished)},
                     {"duration_seconds", static_cast<double>(finished - started) / 1e6},
                     {"counts", {{"ok", ok}, {"failed", failed}, {"not_attempted", not_attempted}}},
                     {"totals", {{"logical_bytes", logical}, {"stored_bytes", stored}, {"new_chunks", new_chunks}}},
                     {"databases", dbs}};
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  std::cout.flush();
}

// A hot standby cancels a backup whose snapshot holds back replay for longer than
// max_standby_streaming_delay: a running query is cancelled, and the leader session idle in its
// transaction is ended, which the workers then meet as "invalid snapshot identifier". A new
// snapshot usually gets through; when none does, the error names the settings that end it.
constexpr int kConflictAttempts = 3;

// When `error` is a standby's recovery conflict: that standby's max_standby_streaming_delay.
std::optional<std::string> RecoveryConflictDelay(Context& ctx, const std::string& db, const std::string& error) {
  const bool conflict = pg::IsRecoveryConflict(error);
  if (!conflict && error.find("invalid snapshot identifier") == std::string::npos) return std::nullopt;
  try {
    pg::PgConnection conn(ctx.config().postgres.conninfo, db);
    if (conn.QueryValue("SELECT pg_catalog.pg_is_in_recovery()") != "t") return std::nullopt;
    return conn.QueryValue("SHOW max_standby_streaming_delay");
  } catch (const std::exception&) {
    return conflict ? std::optional<std::string>("unknown") : std::nullopt;
  }
}

catalog::BackupRecord BackUpRetryingConflicts(Context& ctx, stream::ChunkUploader& uploader, format::RunLock& run_lock,
                                              const format::StreamRef& globals, const std::string& db, int jobs) {
  for (int attempt = 1;; ++attempt) {
    try {
      return DatabaseBackup(ctx, uploader, run_lock, globals, db, jobs).Run();
    } catch (const Error& e) {
      if (Interrupted()) throw;
      const auto delay = RecoveryConflictDelay(ctx, db, e.what());
      if (!delay) throw;
      if (attempt == kConflictAttempts) {
        throw Error(e.code(), std::to_string(kConflictAttempts) + " attempts failed: " +
                                  pg::RecoveryConflictAdvice(*delay) + ". Last error: " + e.what());
      }
      log::Warning("backup of " + db + ": the standby ended its snapshot (conflict with recovery); taking a new "
                   "snapshot (attempt " + std::to_string(attempt + 1) + " of " + std::to_string(kConflictAttempts) + ")");
      uploader.Recover();
      for (int i = 0; i < 10 * attempt; ++i) {
        ThrowIfInterrupted();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
}

}  // namespace

format::Manifest BackupOneDatabase(Context& ctx, const std::string& database, int jobs, bool globals) {
  format::Repository& repo = ctx.repository();
  format::RunLock run_lock(ctx.storage(), "backup", format::LockKind::kShared);
  const size_t threads = BackupUploadThreads(ctx, jobs);
  stream::ChunkUploader uploader(repo, threads, BackupChunksInFlight(ctx, threads));
  format::StreamRef captured;
  if (globals) {
    captured = CaptureGlobals(ctx, uploader, database);
    uploader.Flush();
  }
  catalog::BackupRecord rec = DatabaseBackup(ctx, uploader, run_lock, captured, database, jobs).Run();
  return repo.GetManifest(rec.backup_id);
}

int RunBackup(Context& ctx, const BackupOptions& options) {
  const UnixMicros run_started = NowMicros();
  const Config& config = ctx.config();
  std::vector<std::string> databases = options.databases.empty() ? config.postgres.databases : options.databases;
  if (databases.empty()) {
    throw Error(ErrorCode::kConfig, config.source + ": no databases to back up: name them on the command line "
                                                    "or in 'postgres.databases'");
  }
  if (config.postgres.conninfo.empty() && std::getenv("PGHOST") == nullptr) {
    log::Debug("no [postgres] conninfo: using libpq defaults and PG* environment variables");
  }
  int jobs = options.jobs.value_or(config.postgres.jobs);
  if (jobs < 1 || jobs > kMaxJobs) {
    throw Error(ErrorCode::kInvalidArgument, "--jobs must be between 1 and " + std::to_string(kMaxJobs));
  }
  auto locks = ctx.Lock(LockMode::kBackup);
  ReconcileFinishedBackups(ctx);
  int stale = ctx.catalog().MarkInterrupted(ctx.repository_url());
  if (stale > 0) log::Warning(std::to_string(stale) + " earlier backup run(s) had been interrupted; marked failed");
  std::unique_ptr<format::RunLock> run_lock;
  std::unique_ptr<stream::ChunkUploader> uploader_holder;
  size_t distrusted = 0;
  format::StreamRef globals;
  notify::RunSummary summary{"backup", {}};
  std::vector<DatabaseResult> results;
  try {
    format::Repository& repo = ctx.repository();
    // Seen by prune on any machine: chunks this run reuses must not be swept meanwhile.
    run_lock = std::make_unique<format::RunLock>(ctx.storage(), "backup", format::LockKind::kShared);
    const size_t threads = BackupUploadThreads(ctx, jobs);
    uploader_holder = std::make_unique<stream::ChunkUploader>(repo, threads, BackupChunksInFlight(ctx, threads));
    uploader_holder->LoadExisting();  // after the lock: a prune that ran before has finished
    TestPausePoint("backup-locked");
    distrusted = DistrustDamagedChunks(ctx, *uploader_holder);
    globals = CaptureGlobals(ctx, *uploader_holder, databases.front());
    uploader_holder->Flush();
  } catch (const Error& e) {
    // The run failed before any database: still leave a failed backup per database in the
    // catalog, so that `list`, `status` and the notifications show that the night failed.
    const bool interrupted = e.code() == ErrorCode::kInterrupted;
    for (const auto& db : databases) {
      RecordEarlyFailure(ctx, db, e.what());
      notify::DatabaseOutcome outcome;
      outcome.database = db;
      outcome.error = interrupted ? std::string("not attempted: ") + e.what() : e.what();
      summary.databases.push_back(outcome);
      DatabaseResult r;
      r.database = db;
      r.status = interrupted ? "not_attempted" : "failed";
      r.error = e.what();
      results.push_back(r);
    }
    notify::RecordOutcomes(summary);
    if (ctx.options().json) PrintJson(ctx, results, run_started);
    throw;
  }
  stream::ChunkUploader& uploader = *uploader_holder;

  int exit_code = 0;
  std::vector<std::string> failed, not_attempted;
  for (const auto& db : databases) {
    log::Subject subject(db);
    DatabaseResult result;
    result.database = db;
    notify::DatabaseOutcome outcome;
    outcome.database = db;
    if (Interrupted()) {
      // Never started: not a failure of this database, and not counted as one.
      not_attempted.push_back(db);
      outcome.error = "not attempted: the run was interrupted before it";
      result.error = outcome.error;
      summary.databases.push_back(outcome);
      results.push_back(result);
      continue;
    }
    UnixMicros start = NowMicros();
    try {
      catalog::BackupRecord rec = BackUpRetryingConflicts(ctx, uploader, *run_lock, globals, db, jobs);
      outcome.ok = true;
      outcome.backup_id = rec.backup_id;
      outcome.rows = rec.rows;
      outcome.logical_bytes = rec.logical_bytes;
      outcome.stored_bytes = rec.stored_bytes;
      result.status = "ok";
      result.record = std::move(rec);
    } catch (const std::exception& e) {
      // Any failure, dhanbak's own or not (std::bad_alloc, a library's exception), fails this
      // database only: it is recorded and notified, and the next database is backed up.
      const auto* own = dynamic_cast<const Error*>(&e);
      log::Error("backup of " + db + " failed: " + e.what());
      failed.push_back(db);
      outcome.error = e.what();
      result.status = "failed";
      result.error = e.what();
      if (exit_code == 0) exit_code = ExitCodeFor(own ? own->code() : ErrorCode::kInternal);
      uploader.Recover();  // an upload that failed for this database must not fail the next
    }
    outcome.duration_seconds = static_cast<double>(NowMicros() - start) / 1e6;
    result.duration_seconds = outcome.duration_seconds;
    if (auto last = ctx.catalog().FindBackupAt(ctx.repository_url(), db, std::nullopt)) {
      outcome.last_good_unix_seconds = last->snapshot_time / 1000000;
    }
    summary.databases.push_back(outcome);
    ClearRestoredChunks(ctx, uploader);
    results.push_back(std::move(result));
  }
  if (distrusted > 0) {
    size_t left = ctx.catalog().DamagedChunks(ctx.repository_url()).size();
    if (left > 0) {
      log::Warning(std::to_string(left) + " damaged chunk(s) were not met by this run and remain damaged: the "
                   "backups that need them stay unrestorable ('dhanbak check --read-data' lists them)");
    }
  }
  notify::RecordOutcomes(summary);
  if (!failed.empty()) {
    log::Error("backup failed for " + std::to_string(failed.size()) + " of " + std::to_string(databases.size()) +
               " database(s): " + JoinComma(failed));
  }
  if (!not_attempted.empty()) {
    log::Warning("backup interrupted: " + std::to_string(not_attempted.size()) + " of " +
                 std::to_string(databases.size()) + " database(s) not attempted: " + JoinComma(not_attempted));
    if (exit_code == 0) exit_code = ExitCodeFor(ErrorCode::kInterrupted);
  }
  if (ctx.options().json) PrintJson(ctx, results, run_started);
  return exit_code;
}

}  // namespace dhanbak::command
