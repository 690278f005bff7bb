#include "command/maintenance.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "command/leftovers.hpp"
#include "command/scratch_area.hpp"
#include "command/manifest_record.hpp"
#include "command/missing_backups.hpp"
#include "command/init.hpp"
#include "command/wal_report.hpp"
#include "common/log.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "storage/open_storage.hpp"

namespace dhanbak::command {

int RunCatalogRebuild(Context& ctx) {
  auto locks = ctx.Lock(LockMode::kExclusive);
  auto& repo = ctx.repository();
  auto& cat = ctx.catalog();
  std::string url = ctx.repository_url();
  auto ids = repo.ListManifestIds();
  // A hidden manifest (B2) is still there and readable: its backup stays in the catalog.
  for (auto& id : repo.HiddenManifestIds()) ids.push_back(std::move(id));
  std::set<std::string> present(ids.begin(), ids.end());
  int added = 0, failed = 0;
  for (const auto& id : ids) {
    try {
      format::Manifest m = repo.GetManifest(id);
      catalog::BackupRecord r = RecordFromManifest(m, url);
      cat.UpsertBackup(r);
      ++added;
    } catch (const Error& e) {
      log::Error("manifest '" + id + "' cannot be read: " + e.what());
      ++failed;
    }
  }
  std::set<std::string> present_base;
  for (const auto& id : repo.ListBaseBackupIds()) {
    try {
      cat.RecordBaseBackup(RecordFromBaseBackup(repo.GetBaseBackup(id), url));
      present_base.insert(id);
      ++added;
    } catch (const Error& e) {
      log::Error("base backup '" + id + "' cannot be read: " + e.what());
      ++failed;
    }
  }
  // Good backups the catalog knows but storage no longer holds are not restorable: forget them.
  int forgotten = 0;
  for (const auto& b : cat.ListBaseBackups(url)) {
    if (b.status == "ok" && !present_base.count(b.backup_id)) {
      cat.DeleteBaseBackup(url, b.backup_id);
      ++forgotten;
    }
  }
  for (const auto& b : cat.ListBackups(url, std::nullopt)) {
    if (b.status == "ok" && !present.count(b.backup_id)) {
      cat.DeleteBackup(url, b.backup_id);
      ++forgotten;
    }
  }
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"location", ctx.storage().Describe()},
                                {"backups", added},
                                {"removed", forgotten},
                                {"unreadable_manifests", failed},
                                {"ok", failed == 0}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "catalog rebuilt from " << ctx.storage().Describe() << ": " << added << " backups"
              << (forgotten ? ", " + std::to_string(forgotten) + " no longer in storage removed" : "")
              << (failed ? ", " + std::to_string(failed) + " unreadable manifests" : "") << "\n";
  }
  return failed ? 3 : 0;
}

namespace {

// "45s", "12m", "3.2h", "4.1d": an age at a glance.
std::string ShortDuration(int64_t seconds) {
  char buf[32];
  if (seconds < 120) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
  else if (seconds < 7200) std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(seconds / 60));
  else if (seconds < 172800) std::snprintf(buf, sizeof buf, "%.1fh", static_cast<double>(seconds) / 3600);
  else std::snprintf(buf, sizeof buf, "%.1fd", static_cast<double>(seconds) / 86400);
  return buf;
}

nlohmann::json PitrVerificationJson(const catalog::PitrVerificationRecord& v) {
  return {{"status", v.status},
          {"at", FormatUtcIso(v.at)},
          {"target_time", v.target_time ? FormatUtcIso(v.target_time) : std::string("latest")},
          {"base_backup", v.base_backup_id},
          {"rto_seconds", static_cast<double>(v.rto_millis) / 1000.0},
          {"detail", v.detail}};
}

std::string PitrVerificationLine(const catalog::PitrVerificationRecord& v) {
  char rto[32];
  std::snprintf(rto, sizeof rto, "%.0f s", static_cast<double>(v.rto_millis) / 1000.0);
  return "point-in-time verification of " + v.database + ": " + v.status + " " + FormatLocalTime(v.at).substr(0, 16) +
         " (to " + (v.target_time ? FormatLocalTime(v.target_time) : std::string("latest")) + ", restore took " + rto +
         ")" + (v.status == "ok" ? "" : ": " + v.detail);
}

}  // namespace

int RunStatus(Context& ctx, const std::optional<std::string>& max_age, const std::optional<std::string>& max_wal_age,
              const std::optional<std::string>& max_pitr_age) {
  const Config& config = ctx.config();
  std::optional<std::chrono::seconds> limit;
  if (max_age) limit = ParseDuration(*max_age);
  std::optional<std::chrono::seconds> wal_limit;
  if (max_wal_age) wal_limit = ParseDuration(*max_wal_age);
  std::optional<std::chrono::seconds> pitr_limit;
  if (max_pitr_age) pitr_limit = ParseDuration(*max_pitr_age);
  UnixMicros now = NowMicros();
  std::string url = ctx.repository_url();
  const std::set<std::string> configured_databases(config.postgres.databases.begin(), config.postgres.databases.end());
  std::set<std::string> databases = configured_databases;
  for (const auto& b : ctx.catalog().ListBackups(url, std::nullopt)) databases.insert(b.database);
  // The catalog against storage (one listing of manifests/, no passphrase needed): a good
  // backup whose manifest is gone is lost; it does not count as the last good backup and it
  // is an alert until restored to storage or forgotten ('dhanbak catalog rebuild').
  auto& cat = ctx.catalog();
  std::set<std::string> lost;
  std::string compare_error;
  try {
    // Bounded: an outage of the repository must not hold an hourly `status` for the full retry
    // budget of a backup (10 minutes by default on B2).
    auto storage = storage::OpenStorageForReports(url, config);
    std::set<std::string> present;
    storage->List("manifests/", [&](const storage::ObjectInfo& o) { present.insert(o.name.substr(10)); });
    std::vector<std::string> recorded = cat.LostBackups(url);
    std::vector<retention::BackupRef> listed;
    for (const auto& b : cat.ListBackups(url, std::nullopt)) {
      if (b.status != "ok" || !present.count(b.backup_id)) continue;
      listed.push_back({b.backup_id, b.database, b.snapshot_time});
      if (std::find(recorded.begin(), recorded.end(), b.backup_id) != recorded.end()) cat.ClearLostBackup(url, b.backup_id);
    }
    // Missing but expired by retention: pruned, maybe by another host; not an alert.
    for (const auto& id : SortOutMissing(ctx, listed, true).lost) {
      lost.insert(id);
      if (std::find(recorded.begin(), recorded.end(), id) == recorded.end()) cat.RecordLostBackup(url, id);
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    compare_error = e.what();
    log::Warning("cannot compare the catalog with the repository (showing the lost backups recorded earlier): " +
                 compare_error);
    for (const auto& id : cat.LostBackups(url)) lost.insert(id);
  }
  const size_t damaged_chunks = cat.DamagedChunks(url).size();
  // The WAL archive: its newest segment's age is the real RPO; a gap loses every moment inside it.
  const wal::ArchiveSummary wal_summary = QuickWalSummary(ctx);
  const RestorableWindow window = FindRestorableWindow(cat.ListBaseBackups(url), wal_summary);
  nlohmann::json out = nlohmann::json::array();
  bool alert = false;
  std::vector<std::string> pitr_lines;  // the last point-in-time verification of each database
  if (!ctx.options().json) {
    std::printf("%-30s %-17s %-7s %-7s %-17s %-22s %s\n", "DATABASE", "LAST GOOD BACKUP", "AGE", "RPO",
                "RESTORABLE FROM", "LAST VERIFICATION", "STATE");
  }
  for (const auto& db : databases) {
    std::optional<catalog::BackupRecord> last, oldest;
    std::vector<std::string> lost_here;
    for (const auto& b : cat.ListBackups(url, db)) {  // newest first
      if (b.status != "ok") continue;
      if (lost.count(b.backup_id)) {
        lost_here.push_back(b.backup_id);
      } else {
        if (!last) last = b;
        oldest = b;
      }
    }
    // A database backed up once but no longer in [postgres] databases (a retired service):
    // listed, never an alert ('prune --forget-database' removes its backups).
    const bool configured = configured_databases.empty() || configured_databases.count(db) != 0;
    // What an incident can get back: the nightly backups' span, widened by the WAL archive's
    // window (every second of it, for every database of the cluster). The RPO is what would be
    // lost now: the time since the newest point that can be restored.
    UnixMicros restorable_from = oldest ? oldest->snapshot_time : 0, restorable_to = last ? last->snapshot_time : 0;
    if (window.any) {
      restorable_from = restorable_from == 0 ? window.from : std::min(restorable_from, window.from);
      restorable_to = std::max(restorable_to, window.to);
    }
    const int64_t rpo_seconds = restorable_to == 0 ? -1 : (now - restorable_to) / 1000000;
    auto verification = cat.LastVerification(db);
    std::vector<std::string> problems;
    double age_hours = last ? static_cast<double>(now - last->snapshot_time) / 3.6e9 : -1;
    if (!last) problems.push_back("no good backup");
    else if (limit && now - last->snapshot_time > limit->count() * 1000000LL) problems.push_back("last good backup too old");
    if (verification && verification->status != "ok") problems.push_back("last verification failed");
    for (const auto& id : lost_here) problems.push_back("backup " + id + " lost (manifest missing from storage)");
    auto pitr = cat.LastPitrVerification(db);
    if (pitr) pitr_lines.push_back(PitrVerificationLine(*pitr));
    if (pitr && pitr->status != "ok") problems.push_back("last point-in-time verification failed");
    if (pitr_limit && (!pitr || now - pitr->at > pitr_limit->count() * 1000000LL)) {
      problems.push_back(pitr ? "last point-in-time verification too old" : "never verified from the WAL archive");
    }
    if (!configured) problems.clear();
    alert = alert || !problems.empty();
    std::string state = problems.empty() ? (configured ? "ok" : "not configured (no alert)") : "";
    for (const auto& p : problems) state += (state.empty() ? "" : "; ") + p;
    out.push_back({{"database", db},
                   {"configured", configured},
                   {"restorable_from", restorable_from ? FormatUtcIso(restorable_from) : ""},
                   {"restorable_to", restorable_to ? FormatUtcIso(restorable_to) : ""},
                   {"rpo_seconds", rpo_seconds},
                   {"last_backup_id", last ? last->backup_id : ""},
                   {"last_backup_time", last ? FormatUtcIso(last->snapshot_time) : ""},
                   {"age_hours", age_hours},
                   {"last_verification", verification ? verification->status : ""},
                   {"last_verification_time", verification ? FormatUtcIso(verification->at) : ""},
                   {"lost_backups", lost_here},
                   {"last_pitr_verification", pitr ? PitrVerificationJson(*pitr) : nlohmann::json()},
                   {"ok", problems.empty()},
                   {"problems", problems}});
    if (!ctx.options().json) {
      char age[32] = "-";
      if (last) std::snprintf(age, sizeof age, "%.1fh", age_hours);
      std::string v = verification ? verification->status + " " + FormatLocalTime(verification->at).substr(0, 16) : "never";
      std::printf("%-30s %-17s %-7s %-7s %-17s %-22s %s\n", db.c_str(),
                  last ? FormatLocalTime(last->snapshot_time).substr(0, 16).c_str() : "never", age,
                  rpo_seconds < 0 ? "-" : ShortDuration(rpo_seconds).c_str(),
                  restorable_from ? FormatLocalTime(restorable_from).substr(0, 16).c_str() : "-", v.c_str(),
                  state.c_str());
    }
  }
  const auto chain = cat.LastPitrVerification("(cluster)");
  if (!ctx.options().json) {
    for (const auto& line : pitr_lines) std::printf("%s\n", line.c_str());
    if (chain) std::printf("%s\n", PitrVerificationLine(*chain).c_str());
  }
  if (!ctx.options().json && damaged_chunks > 0) {
    std::printf("%zu chunk(s) were found damaged and not stored again yet: run 'dhanbak backup', then "
                "'dhanbak check --read-data' (runbook: corrupted data)\n",
                damaged_chunks);
  }
  // Databases left by killed restores or verifications (best effort: status must answer even
  // when PostgreSQL does not).
  nlohmann::json leftovers = nlohmann::json::array();
  try {
    ::setenv("PGCONNECT_TIMEOUT", "10", 0);
    for (const auto& l : FindLeftovers(config.postgres.conninfo)) {
      leftovers.push_back({{"database", l.database}, {"kind", l.kind}});
      if (!ctx.options().json) {
        std::printf("leftover: database %s from an interrupted %s (removed by the next restore of its target, "
                    "or DROP DATABASE)\n", l.database.c_str(), l.kind.c_str());
      }
    }
  } catch (const std::exception& e) {
    log::Warning("could not look for databases left by interrupted restores: " + std::string(e.what()));
  }
  std::vector<std::string> wal_problems;
  if (!wal_summary.empty()) {
    size_t gaps = 0;
    for (const auto& t : wal_summary.timelines) gaps += t.gaps.size();
    if (gaps > 0) wal_problems.push_back(std::to_string(gaps) + " gap(s) in the WAL archive");
    int64_t age = NewestWalAgeSeconds(wal_summary, now);
    if (wal_limit && age > wal_limit->count()) {
      wal_problems.push_back("newest archived WAL is " + std::to_string(age / 60) + " min old (limit " +
                             *max_wal_age + "): archiving is stale");
    }
  } else if (wal_limit) {
    wal_problems.push_back("no WAL archived in this repository (--max-wal-age given)");
  }
  alert = alert || !wal_problems.empty();
  // Scratch directories of point-in-time restores that were killed (the next one removes them).
  nlohmann::json scratch_leftovers = nlohmann::json::array();
  for (const auto& dir : FindScratchLeftovers(config.pitr.scratch_dir)) {
    scratch_leftovers.push_back(dir);
    if (!ctx.options().json) {
      std::printf("leftover: scratch directory %s of a point-in-time restore that was killed (removed by the "
                  "next one)\n", dir.c_str());
    }
  }
  if (!ctx.options().json) {
    for (const auto& line : WalSummaryLines(wal_summary, now)) std::printf("%s\n", line.c_str());
    if (!wal_summary.empty()) std::printf("%s\n", RestorableWindowLine(window).c_str());
    for (const auto& p : wal_problems) std::printf("alert: %s\n", p.c_str());
  }
  if (ctx.options().json) {
    nlohmann::json wal_json = WalSummaryJson(wal_summary, now);
    std::cout << nlohmann::json{{"repository", url},          {"databases", out},
                                {"damaged_chunks", damaged_chunks}, {"leftovers", leftovers},
                                {"wal", wal_json},            {"wal_problems", wal_problems},
                                {"restorable_window", RestorableWindowJson(window)},
                                {"pitr_chain", chain ? PitrVerificationJson(*chain) : nlohmann::json()},
                                {"scratch_leftovers", scratch_leftovers},
                                {"ok", !alert}}
                     .dump(2)
              << "\n";
  }
  return alert ? ExitCodeFor(ErrorCode::kStatusAlert) : 0;
}

int RunKeyAdd(Context& ctx, const std::string& new_passphrase_ref, bool allow_weak_passphrase) {
  SecretRef ref{new_passphrase_ref, "--new-passphrase"};
  if (!new_passphrase_ref.starts_with("env:") && !new_passphrase_ref.starts_with("file:")) {
    throw Error(ErrorCode::kInvalidArgument, "--new-passphrase takes env:NAME or file:PATH (never the passphrase itself)");
  }
  if (std::string problem = SecretSpecProblem(new_passphrase_ref); !problem.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "--new-passphrase " + problem);
  }
  std::string passphrase = ref.Resolve();
  CheckPassphraseStrength(passphrase, "the new passphrase", allow_weak_passphrase);
  std::string id = ctx.repository().AddKey(passphrase, KdfForNewKeys());
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"added_key", id}}.dump(2) << "\n";
  } else {
    std::cout << "added key " << id << "\n";
  }
  return 0;
}

int RunKeyList(Context& ctx) {
  auto& repo = ctx.repository();
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : repo.ListKeys()) {
    keys.push_back({{"id", k.id}, {"created", k.created}, {"host", k.host}, {"current", k.id == repo.unlocked_key_id()}});
    if (!ctx.options().json) {
      std::cout << k.id << "  created " << k.created << (k.host.empty() ? "" : " on " + k.host)
                << (k.id == repo.unlocked_key_id() ? "  (this passphrase)" : "") << "\n";
    }
  }
  if (ctx.options().json) std::cout << nlohmann::json{{"keys", keys}}.dump(2) << "\n";
  return 0;
}

int RunKeyRemove(Context& ctx, const std::string& key_id) {
  ctx.repository().RemoveKey(key_id);
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"removed_key", key_id}}.dump(2) << "\n";
  } else {
    std::cout << "removed key " << key_id << "\n";
  }
  return 0;
}

}  // namespace dhanbak::command
