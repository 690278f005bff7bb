#include "command/restore_engine.hpp"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "command/parallel.hpp"
#include "command/transfer_width.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/test_pause.hpp"
#include "common/progress.hpp"
#include "common/temp_dir.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "pg/connection.hpp"
#include "pg/database_properties.hpp"
#include "pg/pg_tools.hpp"
#include "pg/rebuilt_tables.hpp"
#include "pg/table_layout.hpp"
#include "pg/schema_check.hpp"
#include "pg/source_catalog.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {
namespace {


// With a table filter, keep every post-data entry except foreign keys (their referenced rows
// are not restored) and materialized view refreshes (their source tables are empty).
std::string FilteredPostDataList(int version, const std::string& archive, const std::string& path) {
  std::istringstream toc(pg::ArchiveToc(version, archive));
  std::ofstream out(path);
  std::string line;
  while (std::getline(toc, line)) {
    if (line.find(" FK CONSTRAINT ") != std::string::npos ||
        line.find(" MATERIALIZED VIEW DATA ") != std::string::npos) {
      out << ";" << line << "\n";
    } else {
      out << line << "\n";
    }
  }
  out.close();
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + path + "'");
  return path;
}

class Restorer {
 public:
  Restorer(Context& ctx, const format::Manifest& m, const RestoreSpec& spec)
      : Restorer(ctx, m, spec, RestoreTransferWidth(ctx, spec.jobs)) {}

  void Run(RestoreResult& result);

 private:
  Restorer(Context& ctx, const format::Manifest& m, const RestoreSpec& spec, RestoreFetchWidth width)
      : ctx_(ctx), m_(m), spec_(spec), fetcher_(ctx.repository(), width.threads, width.window) {
    for (const auto& t : m_.tables) {
      if (spec_.tables.empty() || spec_.tables.count(t.schema + "." + t.name)) tables_.push_back(&t);
    }
  }

  void LoadTables();
  void Verify(RestoreResult& result, const std::string& archive, const std::string& work_dir);
  void CompareLayouts(RestoreResult& result);
  pg::ToolTarget Tool() const { return {spec_.conninfo, spec_.target, version_}; }

  Context& ctx_;
  const format::Manifest& m_;
  const RestoreSpec& spec_;
  std::vector<const format::TableEntry*> tables_;
  int version_ = 0;
  stream::ChunkFetcher fetcher_;
};

void Restorer::LoadTables() {
  std::atomic<size_t> next{0};
  int64_t total = 0;
  for (const auto* t : tables_) total += t->data.bytes;
  Progress progress("restore " + spec_.target, total);
  std::atomic<bool> failed{false};
  int workers = std::max(1, std::min<int>(spec_.jobs, static_cast<int>(tables_.size())));
  RunParallel(workers, failed, [&] {
    pg::PgConnection conn(spec_.conninfo, spec_.target);
    conn.ApplySessionSettings();
    conn.Exec("SET synchronous_commit = off");
    for (size_t i = next++; i < tables_.size() && !failed; i = next++) {
      ThrowIfInterrupted();
      const auto& t = *tables_[i];
      conn.Exec("BEGIN");
      // Truncating in the loading transaction makes COPY skip the free space map, so rows are
      // appended strictly in stream order (the verification hashes heap order) and FREEZE
      // spares the verification read from rewriting every page to set hint bits. ONLY: an
      // inheritance parent's children are loaded by other workers.
      conn.Exec("TRUNCATE ONLY " + pg::QualifiedName(t.schema, t.name));
      conn.CopyInBegin(pg::CopyFromSql(t.schema, t.name, t.columns, m_.properties.encoding, true));
      try {
        // The stream's hash is checked after its last chunk and before COMMIT: a corrupted
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

// The real column layout of every restored table against the backup's (manifests written
// before layouts were recorded have none, and are checked by the schema text alone).
void Restorer::CompareLayouts(RestoreResult& result) {
  pg::PgConnection conn(spec_.conninfo, spec_.target);
  conn.ApplySessionSettings();
  auto restored = pg::ReadColumnLayouts(conn);
  for (size_t i = 0; i < tables_.size(); ++i) {
    const auto& t = *tables_[i];
    if (t.layout.empty()) continue;
    auto oid = restored.oid_by_name.find({t.schema, t.name});
    static const std::vector<std::string> kNone;
    const auto& actual = oid == restored.oid_by_name.end() ? kNone : restored.by_oid[oid->second];
    if (auto diff = pg::CompareLayout(t.schema + "." + t.name, t.layout, actual)) {
      TableVerdict& v = result.verdicts[i];
      v.ok = false;
      v.detail = *diff;
    }
  }
}

void Restorer::Verify(RestoreResult& result, const std::string& archive, const std::string& work_dir) {
  result.verdicts.resize(tables_.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  int workers = std::max(1, std::min<int>(spec_.jobs, static_cast<int>(tables_.size())));
  RunParallel(workers, failed, [&] {
    pg::PgConnection conn(spec_.conninfo, spec_.target);
    conn.ApplySessionSettings();
    conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    for (size_t i = next++; i < tables_.size(); i = next++) {
      ThrowIfInterrupted();
      const auto& t = *tables_[i];
      crypto::Digest digest;
      int64_t rows = 0, bytes = 0;
      conn.CopyOut(pg::CopyToSql(t.schema, t.name, t.columns, m_.properties.encoding), [&](std::string_view d) {
        digest.Update(d);
        bytes += static_cast<int64_t>(d.size());
        rows += std::count(d.begin(), d.end(), '\n');
      });
      TableVerdict& v = result.verdicts[i];
      v.table = t.schema + "." + t.name;
      v.expected_rows = t.rows;
      v.actual_rows = rows;
      v.ok = rows == t.rows && bytes == t.data.bytes && digest.FinishHex() == t.data.sha256;
      if (!v.ok) v.detail = rows != t.rows ? "row count differs" : "content differs (SHA-256 mismatch)";
    }
    conn.Exec("COMMIT");
  });
  result.verified = true;
  CompareLayouts(result);
  // The schema check needs the whole database: it does not apply to a --table restore.
  if (spec_.tables.empty()) {
    if (version_ / 10000 != m_.server_version_num / 10000) {
      log::Warning("schema comparison skipped: the target server's major version differs from the source's");
      return;
    }
    std::vector<std::pair<std::string, std::string>> data_tables;
    for (const auto& t : m_.tables) data_tables.emplace_back(t.schema, t.name);
    auto diff = pg::CompareSchema(Tool(), archive, data_tables, work_dir);
    result.schema_checked = true;
    if (diff) result.schema_difference = *diff;
  }
}

void Restorer::Run(RestoreResult& result) {
  for (const auto& name : spec_.tables) {
    bool found = std::any_of(tables_.begin(), tables_.end(),
                             [&](const auto* t) { return t->schema + "." + t->name == name; });
    if (!found) throw Error(ErrorCode::kNotFound, "table '" + name + "' is not in backup " + m_.backup_id);
  }
  auto admin = AdminConnection(spec_.conninfo);
  version_ = admin->server_version_num();
  pg::RequireSupportedServer(version_);
  if (!admin->Query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {spec_.target}).empty()) {
    throw Error(ErrorCode::kInvalidArgument, "target database '" + spec_.target +
                                                 "' already exists; dhanbak never overwrites a database "
                                                 "(choose another --target-db, or use --replace)");
  }
  auto phase_start = std::chrono::steady_clock::now();
  auto phase_done = [&](const char* name) {
    auto now = std::chrono::steady_clock::now();
    result.phases.emplace_back(name, std::chrono::duration<double>(now - phase_start).count());
    phase_start = now;
  };
  TempDir tmp;
  std::string archive = tmp.path() + "/schema.dump";
  fetcher_.StreamToFile(m_.schema, "schema archive", archive);
  phase_done("fetch schema archive");
  ThrowIfInterrupted();
  admin->Exec(pg::CreateDatabaseSql(spec_.target, m_.properties, version_));
  try {
    log::Info("restoring schema (pre-data) into " + spec_.target);
    std::map<std::string, std::string> definitions = pg::TableDefinitions(m_.tables);
    if (definitions.empty()) {
      pg::RestoreSection(Tool(), archive, "pre-data", 1);
    } else {
      pg::RestorePreDataWithDefinitions(Tool(), archive, definitions, tmp.path());
    }
    phase_done("schema (pre-data)");
    TestPausePoint("restore-loading");
    ThrowIfInterrupted();
    log::Info("loading " + std::to_string(tables_.size()) + " tables with " + std::to_string(spec_.jobs) + " job(s)");
    LoadTables();
    phase_done("load table data");
    ThrowIfInterrupted();
    log::Info("restoring sequence values and large objects");
    pg::RestoreSection(Tool(), archive, "data", 1);
    phase_done("sequences and large objects");
    ThrowIfInterrupted();
    log::Info("building indexes, constraints and triggers, refreshing materialized views");
    std::string list = spec_.tables.empty() ? "" : FilteredPostDataList(version_, archive, tmp.path() + "/post-data.list");
    TestPausePoint("restore-post-data");
    pg::RestoreSection(Tool(), archive, "post-data", spec_.jobs, list);
    phase_done("indexes, constraints, triggers (post-data)");
    ThrowIfInterrupted();
    {
      // From inside the target database: shared catalogs store text (the comment, settings)
      // in the encoding of the database the statement runs in.
      pg::PgConnection target(spec_.conninfo, spec_.target);
      target.ApplySessionSettings();
      for (const auto& sql : pg::DatabasePropertiesSql(spec_.target, m_.properties)) target.Exec(sql);
    }
    if (spec_.verify) {
      log::Info("verifying every table and the schema against the backup");
      Verify(result, archive, tmp.path());
      phase_done("verification");
      if (!result.ok()) {
        throw Error(ErrorCode::kVerification, "verification of " + spec_.target + " against backup " +
                                                  m_.backup_id + " found differences");
      }
    }
  } catch (...) {
    admin.reset();
    for (const auto& v : result.verdicts) {
      if (!v.ok && !v.table.empty()) log::Error("table " + v.table + ": " + v.detail);
    }
    if (!result.schema_difference.empty()) log::Error(result.schema_difference);
    DropDatabaseQuietly(spec_.conninfo, spec_.target);
    throw;
  }
}

}  // namespace

bool RestoreResult::ok() const {
  if (!schema_difference.empty()) return false;
  return std::all_of(verdicts.begin(), verdicts.end(), [](const TableVerdict& v) { return v.ok; });
}

std::unique_ptr<pg::PgConnection> AdminConnection(const std::string& conninfo) {
  try {
    return std::make_unique<pg::PgConnection>(conninfo, std::string("postgres"));
  } catch (const Error&) {
    return std::make_unique<pg::PgConnection>(conninfo, std::string("template1"));
  }
}

void DropBuiltDatabase(pg::PgConnection& admin, const std::string& conninfo, const std::string& name, bool force) {
  // A restored database holds the source's subscriptions (pg_dump recreates them disabled, with
  // connect = false), and PostgreSQL refuses to drop a database that has one. Each is detached
  // from its replication slot first: the slot on the publisher is the live subscription's, and
  // DROP SUBSCRIPTION would otherwise drop it there.
  auto subscriptions = admin.Query(
      "SELECT s.subname FROM pg_catalog.pg_subscription s JOIN pg_catalog.pg_database d ON d.oid = s.subdbid "
      "WHERE d.datname = $1 ORDER BY 1",
      {name});
  if (!subscriptions.empty()) {
    pg::PgConnection db(conninfo, name);
    db.ApplySessionSettings();
    for (const auto& row : subscriptions) {
      const std::string sub = pg::QuoteIdent(*row[0]);
      db.Exec("ALTER SUBSCRIPTION " + sub + " DISABLE");
      db.Exec("ALTER SUBSCRIPTION " + sub + " SET (slot_name = NONE)");
      db.Exec("DROP SUBSCRIPTION " + sub);
    }
  }
  admin.Exec("DROP DATABASE IF EXISTS " + pg::QuoteIdent(name) + (force ? " WITH (FORCE)" : ""));
}

void DropDatabaseQuietly(const std::string& conninfo, const std::string& name) {
  try {
    auto admin = AdminConnection(conninfo);
    DropBuiltDatabase(*admin, conninfo, name, true);
    log::Info("dropped database " + name);
  } catch (const std::exception& e) {
    log::Error("could not drop database " + name + ": " + e.what() + "; drop it by hand");
  }
}

void RestoreInto(Context& ctx, const format::Manifest& manifest, const RestoreSpec& spec, RestoreResult& result) {
  Restorer(ctx, manifest, spec).Run(result);
}

}  // namespace dhanbak::command
