#include "command/restore.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "command/leftovers.hpp"
#include "command/point_in_time_copy.hpp"
#include "command/restore_engine.hpp"
#include "command/restore_names.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/temp_dir.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"
#include "pg/pg_tools.hpp"
#include "physical/recovery_plan.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {
namespace {

// `what`: "backup X taken T" or "its state at T, replayed from the WAL archive".
void ConfirmReplace(const RestoreOptions& o, const std::string& what) {
  if (o.yes) return;
  if (isatty(STDIN_FILENO) != 1) {
    throw Error(ErrorCode::kInvalidArgument,
                "--replace swaps the live database " + o.database + "; pass --yes to confirm when not on a terminal");
  }
  std::cerr << "This replaces the live database " << o.database << " with " << what
            << ".\nThe current database is kept, renamed to " << o.database
            << "_before_restore_<timestamp>.\nType the database name to continue: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != o.database) throw Error(ErrorCode::kInvalidArgument, "not confirmed; nothing was changed");
}

void ReplayGlobals(Context& ctx, const format::Manifest& m, const std::string& conninfo) {
  if (m.globals.chunks.empty() && m.globals.bytes == 0) {
    throw Error(ErrorCode::kNotFound, "backup " + m.backup_id + " holds no cluster globals (roles) to replay");
  }
  TempDir tmp;
  std::string path = tmp.path() + "/globals.sql";
  stream::ChunkFetcher(ctx.repository(), 2, 4).StreamToFile(m.globals, "cluster globals", path);
  pg::PgConnection probe(conninfo, std::string("postgres"));
  log::Info("replaying cluster globals (roles, tablespaces); objects that already exist are reported and skipped");
  // Roles that already exist (at least the bootstrap superuser) make some statements fail;
  // pg_dumpall's script is meant to be run this way.
  pg::RunPsqlScript({conninfo, "postgres", probe.server_version_num()}, path, false);
}

int OtherSessions(pg::PgConnection& admin, const std::string& db) {
  return std::stoi(admin.QueryValue(
      "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
      {db}));
}

bool DatabaseExists(pg::PgConnection& admin, const std::string& db) {
  return !admin.Query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {db}).empty();
}

std::string SessionsMessage(int n, const std::string& live) {
  return std::to_string(n) + " other session(s) are connected to " + live +
         "; stop the application or pass --terminate-connections";
}

// Checked before anything is restored, so that an impossible restore fails in seconds, not
// after hours: the target of --target-db must not exist; the live database of --replace must
// have no other sessions unless they may be terminated.
void CheckTargetUpFront(const std::string& conninfo, const RestoreOptions& o) {
  pg::PgConnection admin(conninfo, std::string("postgres"));
  if (!o.replace && DatabaseExists(admin, *o.target_db)) {
    throw Error(ErrorCode::kInvalidArgument, "target database '" + *o.target_db +
                                                 "' already exists; dhanbak never overwrites a database "
                                                 "(choose another --target-db, or use --replace)");
  }
  if (o.replace && !o.terminate_connections) {
    int n = OtherSessions(admin, o.database);
    if (n > 0) throw Error(ErrorCode::kInvalidArgument, SessionsMessage(n, o.database) + "; nothing was restored");
  }
}

// The last step of a --target-db restore: the verified database takes its final name. Nobody
// else should be connected to a database under dhanbak's temporary name; any session that is
// (a monitoring agent visiting every database) is terminated.
void RenameIntoPlace(const std::string& conninfo, const std::string& built, const std::string& final_name) {
  pg::PgConnection admin(conninfo, std::string("postgres"));
  for (int attempt = 0;; ++attempt) {
    if (DatabaseExists(admin, final_name)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "database '" + final_name + "' appeared while restoring; the verified restore is kept as '" + built +
                      "' (rename it with ALTER DATABASE)");
    }
    try {
      admin.Exec("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = " +
                 pg::QuoteLiteral(built) + " AND pid <> pg_catalog.pg_backend_pid()");
      admin.Exec("ALTER DATABASE " + pg::QuoteIdent(built) + " RENAME TO " + pg::QuoteIdent(final_name));
      return;
    } catch (const Error&) {
      if (attempt >= 50) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void TerminateSessions(pg::PgConnection& admin, const std::string& db) {
  std::string state, message;  // a failure shows in the statement that follows
  admin.TryExec("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = " +
                    pg::QuoteLiteral(db) + " AND pid <> pg_catalog.pg_backend_pid()",
                state, message);
}

// ALTER DATABASE `from` RENAME TO `to`: "" once done, else the server's message. Retried for a
// while when `from` is in use (55006: terminated sessions take a moment to exit, and one that
// started connecting before connections were refused may still arrive; the server itself waits
// up to 5 s on each attempt) or locked (55P03, lock_timeout); any other error is final.
std::string RenameWithRetries(pg::PgConnection& admin, const std::string& from, const std::string& to,
                              bool terminate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (terminate) TerminateSessions(admin, from);
    std::string state, message;
    if (admin.TryExec("ALTER DATABASE " + pg::QuoteIdent(from) + " RENAME TO " + pg::QuoteIdent(to), state, message)) {
      return "";
    }
    if ((state != "55006" && state != "55P03") || std::chrono::steady_clock::now() >= deadline) return message;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// A database taking part in the swap: its name at this point and its own datallowconn, which
// it gets back under whatever name it ends up with.
struct SwapSide {
  std::string name;
  std::string allow;  // "true" or "false"
};

// Puts the verified restore `restored` in service as `live`, keeping the current `live` aside
// under the returned name ("" when there was none). New connections to both are refused until
// both renames are done; sessions on `restored` (dhanbak's own or a monitoring agent's: it is
// not in service) are always terminated, those on `live` only with `terminate`.
// Takes care of `restored` on failure: it is dropped only when `live` is back in service under
// its name; otherwise it is kept and the error says where each database is and what to run.
// No interrupt check happens once the swap has begun: a SIGTERM is acted on after it (the run
// then exits 143), so the databases are never left half-swapped by a signal.
std::string SwapDatabases(const std::string& conninfo, const std::string& live, const std::string& restored,
                          bool terminate) {
  std::unique_ptr<pg::PgConnection> admin;
  auto allow_of = [&](const std::string& db) {
    return admin->QueryValue("SELECT datallowconn::text FROM pg_catalog.pg_database WHERE datname = $1", {db});
  };
  SwapSide fresh{restored, ""};
  std::optional<SwapSide> old;
  try {
    admin = AdminConnection(conninfo);
    fresh.allow = allow_of(restored);
    if (DatabaseExists(*admin, live)) old = SwapSide{live, allow_of(live)};
  } catch (const Error&) {
    DropDatabaseQuietly(conninfo, restored);  // nothing was changed
    throw;
  }
  const std::string aside = old ? AsideName(live, NowMicros()) : "";

  std::string failure;  // why the swap did not happen
  ErrorCode code = ErrorCode::kPg;
  try {
    ThrowIfInterrupted();  // the last moment at which stopping changes nothing
    // A rename queued behind a lock would leave the service without its database for as long:
    // time out and retry, or roll back, instead.
    admin->Exec("SET lock_timeout = '5s'");
    admin->Exec("ALTER DATABASE " + pg::QuoteIdent(restored) + " WITH ALLOW_CONNECTIONS false");
    if (old) {
      admin->Exec("ALTER DATABASE " + pg::QuoteIdent(live) + " WITH ALLOW_CONNECTIONS false");
      int n = OtherSessions(*admin, live);  // again: one may have connected since the up-front check
      if (n > 0 && !terminate) {
        failure = SessionsMessage(n, live);
        code = ErrorCode::kInvalidArgument;
      }
    }
  } catch (const Error& e) {
    failure = e.what();
    code = e.code();
  }
  if (old && failure.empty()) {
    std::string err = RenameWithRetries(*admin, live, aside, terminate);
    if (err.empty()) {
      old->name = aside;
    } else {
      failure = "could not rename " + live + " to " + aside + ": " + err;
    }
  }
  if (failure.empty()) {
    std::string err = RenameWithRetries(*admin, restored, live, true);
    if (err.empty()) {
      fresh.name = live;
    } else {
      failure = "could not rename the verified restore " + restored + " to " + live + ": " + err;
      if (old) {  // roll back
        std::string back = RenameWithRetries(*admin, aside, live, terminate);
        if (back.empty()) {
          old->name = live;
        } else {
          failure += "; renaming " + aside + " back to " + live + " failed too: " + back;
        }
      }
    }
  }

  // Last, once both renames are done or undone: each database gets its own setting back.
  std::string still_refused;
  for (const SwapSide* s : {&fresh, old ? &*old : nullptr}) {
    if (s == nullptr) continue;
    std::string sql = "ALTER DATABASE " + pg::QuoteIdent(s->name) + " WITH ALLOW_CONNECTIONS " + s->allow;
    std::string state, message;
    if (!admin->TryExec(sql, state, message)) {
      still_refused += "; connections to " + s->name + " are still refused (" + message + "): run " + sql;
    }
  }

  if (failure.empty()) {
    if (!still_refused.empty()) {
      throw Error(ErrorCode::kPg, "the verified restore is in service as " + live +
                                      (old ? " and the previous database is kept as " + aside : "") + still_refused);
    }
    return aside;
  }
  const std::string finish = "ALTER DATABASE " + pg::QuoteIdent(restored) + " RENAME TO " + pg::QuoteIdent(live);
  if (old && old->name == live) {
    DropDatabaseQuietly(conninfo, restored);
    throw Error(code, failure + "; " + live + " is unchanged and in service; the verified restore " + restored +
                          " was dropped" + still_refused);
  }
  if (!old) {
    throw Error(code, failure + "; there was no database named " + live + ": the verified restore is kept as " +
                          restored + "; to finish by hand: " + finish + still_refused);
  }
  throw Error(code, failure + ". Neither database is named " + live + " now: the live database is now named " +
                        aside + "; the verified restore is named " + restored +
                        ". To finish by hand, put the restore in service: " + finish +
                        "; or go back to the previous database: ALTER DATABASE " + pg::QuoteIdent(aside) +
                        " RENAME TO " + pg::QuoteIdent(live) + still_refused);
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
  return *cat.GetBackup(repo, found->backup_id);
}

format::Manifest FetchManifest(Context& ctx, const catalog::BackupRecord& backup) {
  auto& repo = ctx.repository();
  const std::string url = ctx.repository_url();
  auto& cat = ctx.catalog();
  std::string message;
  try {
    return repo.GetManifest(backup.backup_id);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) {
      cat.RecordLostBackup(url, backup.backup_id);
      message = "backup " + backup.backup_id + " of " + backup.database + " is lost: its manifest '" +
                format::Repository::ManifestName(backup.backup_id) + "' is missing from the repository " +
                ctx.storage().Describe();
    } else if (e.code() == ErrorCode::kCorruption) {
      message = "backup " + backup.backup_id + " of " + backup.database + " cannot be restored: " + e.what();
    } else {
      throw;
    }
  }
  std::unordered_set<std::string> stored, damaged;
  bool listed = false;
  for (auto& [id, detail] : cat.DamagedChunks(url)) damaged.insert(id);
  std::optional<catalog::BackupRecord> intact;
  for (const auto& b : cat.ListBackups(url, backup.database)) {  // newest first
    if (b.status != "ok" || b.backup_id == backup.backup_id || b.snapshot_time > backup.snapshot_time) continue;
    format::Manifest m;
    try {
      m = repo.GetManifest(b.backup_id);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) cat.RecordLostBackup(url, b.backup_id);
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorruption) throw;
      continue;
    }
    if (!listed) {
      ctx.storage().List("chunks/", [&](const storage::ObjectInfo& o) { stored.insert(o.name); });
      listed = true;
    }
    bool whole = true;
    auto needs = [&](const format::StreamRef& ref) {
      for (size_t i = 0; i < ref.chunks.size(); ++i) {
        const std::string& c = ref.chunks[i];
        const std::string& base = ref.BaseOf(i);
        // A delta reads through its base, unless a whole copy stands in for it.
        const bool base_needed = !base.empty() && !stored.count(format::Repository::ChunkName(c));
        whole = whole && format::Repository::ChunkStorageProblem(c, base, stored).empty() && !damaged.count(c) &&
                !(base_needed && damaged.count(base));
      }
    };
    needs(m.schema);
    needs(m.globals);
    for (const auto& t : m.tables) needs(t.data);
    if (whole) {
      intact = b;
      break;
    }
  }
  if (intact) {
    message += "; the newest older backup that is intact (manifest and every chunk present) is " + intact->backup_id +
               " taken " + FormatLocalTime(intact->snapshot_time) + ": restore it with --backup " + intact->backup_id;
  } else {
    message += "; no older backup of " + backup.database + " is intact";
  }
  throw Error(ErrorCode::kCorruption, message + " ('dhanbak check' lists every lost or damaged backup)");
}


namespace {

// Where a restore comes from, and the reason printed first.
struct SourceChoice {
  bool wal = false;
  std::string reason;
  TimeSpec at;
  std::optional<physical::RecoveryPlan> plan;
};

// The WAL archive when it covers TIME (a base backup that ended by then and unbroken WAL to
// it), else the nightly backups; --source forces one. Without --at (or with `latest`) the
// newest nightly backup, unless --source wal asks for everything archived: "latest" in an
// incident most often includes the damage, so replaying to it is never the default.
SourceChoice ChooseSource(Context& ctx, const RestoreOptions& o) {
  SourceChoice c;
  c.at = ParseTimeSpec(o.at.value_or("latest"), NowMicros());
  if (o.backup_id) {
    c.reason = "--backup " + *o.backup_id;
    return c;
  }
  if (o.source == "nightly") {
    c.reason = "--source nightly";
    return c;
  }
  if (c.at.latest && o.source != "wal") {
    c.reason = o.at ? "--at latest: the newest nightly backup (--source wal replays everything archived)"
                    : "no --at: the newest nightly backup (--at TIME reaches any second the WAL archive covers)";
    return c;
  }
  try {
    c.plan = physical::PlanClusterRecovery(ctx.repository(), c.at);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorruption) throw;
    if (o.source == "wal") throw Error(e.code(), std::string(e.what()) + "; nothing was restored");
    c.reason = std::string("the WAL archive does not cover it: ") + e.what();
    return c;
  }
  c.wal = true;
  c.reason = (o.source == "wal" ? std::string("--source wal: ") : std::string("the WAL archive covers it: ")) +
             "base backup " + c.plan->base.backup_id + " ended " + FormatLocalTime(c.plan->base.stopped_at) +
             ", WAL unbroken from " + c.plan->first_segment + " to " + c.plan->last_segment;
  return c;
}

std::string PhaseLine(const std::vector<std::pair<std::string, double>>& phases) {
  std::string line;
  for (const auto& [name, seconds] : phases) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    line += (line.empty() ? "" : "; ") + name + " " + buf;
  }
  return line;
}

// What the restore came from, for its report.
struct RestoreOrigin {
  std::string backup_id;  // the nightly backup, or the base backup replayed from
  nlohmann::json json;    // source, point asked and reached, ...
  std::string summary;    // "backup X" or "as of T, from the WAL archive"
};

// Loads `manifest` (its chunks read through `chunks`) into the target, verifies it, puts it in
// place (rename, or swap with --replace) and reports. `phases` come before the restore's own.
void LoadAndPlace(Context& chunks, const format::Manifest& manifest, RestoreSpec spec, const RestoreOptions& o,
                  const std::string& final_name, const RestoreOrigin& origin,
                  std::vector<std::pair<std::string, double>> phases, UnixMicros started) {
  const bool json = chunks.options().json;
  if (o.globals) ReplayGlobals(chunks, manifest, spec.conninfo);
  RestoreResult result;
  RestoreInto(chunks, manifest, spec, result);
  if (!json) {
    for (const auto& v : result.verdicts) {
      std::cout << (v.ok ? "ok       " : "DIFFERS  ") << v.table << "  " << v.actual_rows << " rows\n";
    }
    if (result.schema_checked) std::cout << "ok       schema matches the backup\n";
  }
  phases.insert(phases.end(), result.phases.begin(), result.phases.end());
  log::Info("restore phases: " + PhaseLine(phases));
  std::string aside;
  if (o.replace) {
    // On failure SwapDatabases drops the verified restore itself, and only when the live
    // database is back under its name: the caller cannot tell.
    aside = SwapDatabases(spec.conninfo, o.database, spec.target, o.terminate_connections);
    if (!aside.empty() && !json) std::cout << "the previous database was kept as " << aside << "\n";
  } else {
    RenameIntoPlace(spec.conninfo, spec.target, final_name);
  }
  if (json) {
    nlohmann::json tables = nlohmann::json::array(), phase_list = nlohmann::json::array();
    for (const auto& [name, seconds] : phases) phase_list.push_back({{"phase", name}, {"seconds", seconds}});
    for (const auto& v : result.verdicts) {
      tables.push_back({{"table", v.table}, {"rows", v.actual_rows}, {"ok", v.ok}});
    }
    nlohmann::json out{{"database", o.database},
                       {"backup_id", origin.backup_id},
                       {"target", final_name},
                       {"replaced", o.replace},
                       {"kept_aside", aside},
                       {"verified", result.verified},
                       {"schema_checked", result.schema_checked},
                       {"tables", tables},
                       {"phases", phase_list},
                       {"duration_seconds", static_cast<double>(NowMicros() - started) / 1e6},
                       {"ok", true}};
    out.update(origin.json);
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "restored " << o.database << " (" << origin.summary << ") into " << final_name
              << (result.verified ? ": " + std::to_string(result.verdicts.size()) + " tables verified"
                                  : ": not verified")
              << "\n";
  }
}

}  // namespace

int RunRestore(Context& ctx, const RestoreOptions& o) {
  if (o.replace == o.target_db.has_value()) {
    throw Error(ErrorCode::kInvalidArgument, "restore needs exactly one of --target-db NAME (a new database) or --replace");
  }
  if (o.replace && !o.tables.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "--table restores beside the live database: use it with --target-db, not --replace");
  }
  RestoreSpec spec;
  spec.jobs = o.jobs.value_or(ctx.config().postgres.jobs);
  if (spec.jobs < 1) throw Error(ErrorCode::kInvalidArgument, "--jobs must be at least 1");
  spec.verify = o.verify || o.replace;  // a replace is always verified before the swap
  spec.conninfo = o.target_conninfo.value_or(ctx.config().postgres.conninfo);
  spec.tables.insert(o.tables.begin(), o.tables.end());
  for (const auto& t : o.tables) {
    if (t.find('.') == std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument, "--table takes SCHEMA.TABLE, e.g. public.invoices (got '" + t + "')");
    }
  }
  const std::string final_name = o.replace ? o.database : *o.target_db;
  CheckDatabaseName(final_name, o.replace ? "restore --replace" : "--target-db");
  auto locks = ctx.Lock(LockMode::kShared);
  const bool json = ctx.options().json;
  const UnixMicros started = NowMicros();
  SourceChoice source = ChooseSource(ctx, o);
  const std::string asked = source.at.latest ? std::string("latest") : FormatLocalTime(source.at.at);

  catalog::RestoreRecord rec{"", o.database, final_name, "running", "", started, 0};
  std::optional<catalog::BackupRecord> backup;
  std::optional<format::Manifest> manifest;
  if (!source.wal) {
    backup = SelectBackup(ctx, o.database, o.at, o.backup_id);
    if (!json) {
      std::cout << "source: nightly backup " << backup->backup_id << " taken "
                << FormatLocalTime(backup->snapshot_time) << " (" << source.reason << ")\n";
    }
    manifest = FetchManifest(ctx, *backup);
    rec.backup_id = backup->backup_id;
  } else {
    if (!json) std::cout << "source: WAL archive, to " << asked << " (" << source.reason << ")\n";
    rec.backup_id = source.plan->base.backup_id;
  }
  log::Info("source of the restore of " + o.database + ": " + (source.wal ? "WAL archive" : "nightly backup") + " (" +
            source.reason + ")");
  CheckTargetUpFront(spec.conninfo, o);
  if (o.replace) {
    ConfirmReplace(o, source.wal ? "its state at " + asked + ", replayed from the WAL archive"
                                 : "backup " + backup->backup_id + " taken " + FormatLocalTime(backup->snapshot_time));
  }
  RemoveLeftoversOf(spec.conninfo, final_name);
  // Built under a temporary name and renamed only once loaded and verified: a run that dies at
  // any moment never leaves a half-loaded database under the name the user asked for.
  spec.target = RestoringName(final_name, NowMicros());
  try {
    RestoreOrigin origin;
    origin.backup_id = rec.backup_id;
    if (!source.wal) {
      log::Info("restoring " + o.database + " from backup " + backup->backup_id + " taken " +
                FormatLocalTime(backup->snapshot_time) + " into " + final_name + " (built as " + spec.target + ")");
      origin.summary = "backup " + backup->backup_id;
      origin.json = {{"source", "nightly"},
                     {"source_reason", source.reason},
                     {"snapshot_time", FormatUtcIso(backup->snapshot_time)}};
      LoadAndPlace(ctx, *manifest, spec, o, final_name, origin, {}, started);
    } else {
      PointInTimeCopy copy(ctx, *source.plan, source.at);
      copy.Run(o.database, spec.jobs, o.globals);
      const ReplayState& reached = copy.reached();
      const std::string last = reached.last_xact ? FormatLocalTime(ParseUtcIso(*reached.last_xact))
                                                 : std::string("none replayed after the base backup");
      origin.summary = "as of " + asked + ", from the WAL archive";
      origin.json = {{"source", "wal"},
                     {"source_reason", source.reason},
                     {"base_backup", source.plan->base.backup_id},
                     {"target_time", source.at.latest ? std::string("latest") : FormatUtcIso(source.at.at)},
                     {"last_transaction", reached.last_xact ? nlohmann::json(*reached.last_xact) : nlohmann::json()},
                     {"replayed_to_lsn", reached.replay_lsn},
                     {"timeline", reached.timeline}};
      rec.detail = "WAL archive to " + asked + ", last transaction " + last;
      LoadAndPlace(copy.chunks(), copy.manifest(), spec, o, final_name, origin, copy.phases(), started);
      if (!json) {
        std::cout << "point asked for:           " << asked << "\n"
                  << "last transaction replayed: " << last << "\n";
      }
    }
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
