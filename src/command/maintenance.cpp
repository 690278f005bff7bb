#include "command/maintenance.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "command/manifest_record.hpp"
#include "command/init.hpp"
#include "common/log.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::command {

int RunCatalogRebuild(Context& ctx) {
  auto locks = ctx.Lock(LockMode::kExclusive);
  auto& repo = ctx.repository();
  auto& cat = ctx.catalog();
  std::string url = ctx.repository_url();
  auto ids = repo.ListManifestIds();
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
  // Good backups the catalog knows but storage no longer holds are not restorable: forget them.
  int forgotten = 0;
  for (const auto& b : cat.ListBackups(url, std::nullopt)) {
    if (b.status == "ok" && !present.count(b.backup_id)) {
      cat.DeleteBackup(url, b.backup_id);
      ++forgotten;
    }
  }
  std::cout << "catalog rebuilt from " << ctx.storage().Describe() << ": " << added << " backups"
            << (forgotten ? ", " + std::to_string(forgotten) + " no longer in storage removed" : "")
            << (failed ? ", " + std::to_string(failed) + " unreadable manifests" : "") << "\n";
  return failed ? 3 : 0;
}

int RunStatus(Context& ctx, const std::optional<std::string>& max_age) {
  const Config& config = ctx.config();
  std::optional<std::chrono::seconds> limit;
  if (max_age) limit = ParseDuration(*max_age);
  UnixMicros now = NowMicros();
  std::string url = ctx.repository_url();
  std::set<std::string> databases(config.postgres.databases.begin(), config.postgres.databases.end());
  for (const auto& b : ctx.catalog().ListBackups(url, std::nullopt)) databases.insert(b.database);
  nlohmann::json out = nlohmann::json::array();
  bool alert = false;
  if (!ctx.options().json) {
    std::printf("%-30s %-25s %-9s %-25s %s\n", "DATABASE", "LAST GOOD BACKUP", "AGE", "LAST VERIFICATION", "STATE");
  }
  for (const auto& db : databases) {
    auto last = ctx.catalog().FindBackupAt(url, db, std::nullopt);
    auto verification = ctx.catalog().LastVerification(db);
    std::vector<std::string> problems;
    double age_hours = last ? static_cast<double>(now - last->snapshot_time) / 3.6e9 : -1;
    if (!last) problems.push_back("no good backup");
    else if (limit && now - last->snapshot_time > limit->count() * 1000000LL) problems.push_back("last good backup too old");
    if (verification && verification->status != "ok") problems.push_back("last verification failed");
    alert = alert || !problems.empty();
    std::string state = problems.empty() ? "ok" : "";
    for (const auto& p : problems) state += (state.empty() ? "" : "; ") + p;
    out.push_back({{"database", db},
                   {"last_backup_id", last ? last->backup_id : ""},
                   {"last_backup_time", last ? FormatUtcIso(last->snapshot_time) : ""},
                   {"age_hours", age_hours},
                   {"last_verification", verification ? verification->status : ""},
                   {"last_verification_time", verification ? FormatUtcIso(verification->at) : ""},
                   {"ok", problems.empty()},
                   {"problems", problems}});
    if (!ctx.options().json) {
      char age[32] = "-";
      if (last) std::snprintf(age, sizeof age, "%.1fh", age_hours);
      std::string v = verification ? verification->status + " " + FormatLocalTime(verification->at).substr(0, 16) : "never";
      std::printf("%-30s %-25s %-9s %-25s %s\n", db.c_str(),
                  last ? FormatLocalTime(last->snapshot_time).c_str() : "never", age, v.c_str(), state.c_str());
    }
  }
  if (ctx.options().json) std::cout << nlohmann::json{{"repository", url}, {"databases", out}, {"ok", !alert}}.dump(2) << "\n";
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
  std::string id = ctx.repository().AddKey(passphrase);
  std::cout << "added key " << id << "\n";
  return 0;
}

int RunKeyList(Context& ctx) {
  auto& repo = ctx.repository();
  for (const auto& k : repo.ListKeys()) {
    std::cout << k.id << "  created " << k.created << (k.host.empty() ? "" : " on " + k.host)
              << (k.id == repo.unlocked_key_id() ? "  (this passphrase)" : "") << "\n";
  }
  return 0;
}

int RunKeyRemove(Context& ctx, const std::string& key_id) {
  ctx.repository().RemoveKey(key_id);
  std::cout << "removed key " << key_id << "\n";
  return 0;
}

}  // namespace dhanbak::command
