#include "command/prune.hpp"

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/log.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/run_lock.hpp"
#include "retention/policy.hpp"

namespace dhanbak::command {
namespace {

// New chunks younger than this are never swept: they may belong to a backup whose manifest is
// not written yet (a run on another machine, or one that started after prune's lock check).
constexpr int64_t kGraceSeconds = 24 * 3600;

}  // namespace

int RunPrune(Context& ctx, const PruneOptions& o) {
  const Config& config = ctx.config();
  auto locks = ctx.Lock(LockMode::kExclusive);
  auto& repo = ctx.repository();
  auto& storage = ctx.storage();
  for (const auto& l : format::ListRunLocks(storage)) {
    if (!l.stale) {
      throw Error(ErrorCode::kLocked, "a " + l.description + " holds the repository lock " + l.name +
                                          "; prune runs when no backup is running");
    }
    if (l.reason != "released") log::Warning("removing an abandoned repository lock (" + l.reason + "): " + l.description);
    if (!o.dry_run) storage.Remove(l.name);
  }

  // The manifests in storage are the truth; the catalog only mirrors them.
  std::vector<retention::BackupRef> backups;
  std::vector<format::Manifest> manifests;
  for (const auto& id : repo.ListManifestIds()) {
    format::Manifest m = repo.GetManifest(id);  // an unreadable manifest stops prune: nothing is swept blind
    backups.push_back({m.backup_id, m.database, m.snapshot_time});
    manifests.push_back(std::move(m));
  }
  auto expired = retention::Expired(backups, config.retention.keep_within, config.retention.keep_last);

  std::unordered_set<std::string> referenced;
  for (const auto& m : manifests) {
    if (expired.count(m.backup_id)) continue;
    for (const auto& c : m.schema.chunks) referenced.insert(c);
    for (const auto& c : m.globals.chunks) referenced.insert(c);
    for (const auto& t : m.tables)
      for (const auto& c : t.data.chunks) referenced.insert(c);
  }

  std::string url = ctx.repository_url();
  const bool json = ctx.options().json;
  const UnixMicros started = NowMicros();
  nlohmann::json deleted_list = nlohmann::json::array(), kept_list = nlohmann::json::array();
  for (const auto& m : manifests) {
    if (!expired.count(m.backup_id)) {
      kept_list.push_back({{"backup_id", m.backup_id}, {"database", m.database},
                           {"snapshot_time", FormatUtcIso(m.snapshot_time)}});
    }
  }
  int64_t manifests_deleted = 0, chunks_deleted = 0, bytes_freed = 0, locked = 0, young = 0;
  for (const auto& m : manifests) {
    if (!expired.count(m.backup_id)) continue;
    if (!json) {
      std::cout << (o.dry_run ? "would delete backup " : "deleting backup ") << m.backup_id << " of " << m.database
                << " taken " << FormatLocalTime(m.snapshot_time) << "\n";
    }
    nlohmann::json entry{{"backup_id", m.backup_id}, {"database", m.database},
                         {"snapshot_time", FormatUtcIso(m.snapshot_time)}};
    if (o.dry_run) {
      deleted_list.push_back(entry);
      continue;
    }
    try {
      storage.Remove(format::Repository::ManifestName(m.backup_id));
      ctx.catalog().DeleteBackup(url, m.backup_id);
      ++manifests_deleted;
      deleted_list.push_back(entry);
    } catch (const storage::ObjectLockedError&) {
      ++locked;
      entry["reason"] = "object lock";
      kept_list.push_back(entry);
      log::Info("backup " + m.backup_id + " is still under Object Lock; kept until its retention ends");
    }
  }

  int64_t now = std::time(nullptr);
  std::vector<storage::ObjectInfo> garbage;
  storage.List("chunks/", [&](const storage::ObjectInfo& info) {
    std::string id = info.name.substr(info.name.rfind('/') + 1);
    if (referenced.count(id)) return;
    if (info.modified_unix == 0 || now - info.modified_unix < kGraceSeconds) {
      ++young;
      return;
    }
    garbage.push_back(info);
  });
  for (const auto& g : garbage) {
    if (o.dry_run) {
      bytes_freed += static_cast<int64_t>(g.size);
      ++chunks_deleted;
      continue;
    }
    try {
      storage.Remove(g.name);
      bytes_freed += static_cast<int64_t>(g.size);
      ++chunks_deleted;
    } catch (const storage::ObjectLockedError&) {
      ++locked;
    }
  }
  std::string summary = std::string(o.dry_run ? "would delete " : "deleted ") + std::to_string(o.dry_run ? expired.size() : manifests_deleted) +
                        " backup(s) and " + std::to_string(chunks_deleted) + " unreferenced chunk(s), " +
                        log::FormatBytes(static_cast<double>(bytes_freed)) + "; kept " +
                        std::to_string(manifests.size() - expired.size()) + " backup(s)";
  if (young) summary += "; " + std::to_string(young) + " unreferenced chunk(s) younger than the 24 h grace period kept";
  if (locked) summary += "; " + std::to_string(locked) + " object(s) still under Object Lock kept";
  if (!json) std::cout << summary << "\n";
  if (!o.dry_run) ctx.catalog().RecordPrune(NowMicros(), manifests_deleted, chunks_deleted, summary);
  if (json) {
    const UnixMicros finished = NowMicros();
    nlohmann::json out{
        {"command", "prune"},
        {"repository", url},
        {"dry_run", o.dry_run},
        {"ok", true},
        {"duration_seconds", static_cast<double>(finished - started) / 1e6},
        {"retention", {{"keep_within_seconds", config.retention.keep_within.count()}, {"keep_last", config.retention.keep_last}}},
        {"counts",
         {{"backups_deleted", deleted_list.size()},
          {"backups_kept", kept_list.size()},
          {"chunks_deleted", chunks_deleted},
          {"bytes_freed", bytes_freed},
          {"young_chunks_kept", young},
          {"object_locked_kept", locked}}},
        {"deleted_backups", deleted_list},
        {"kept_backups", kept_list}};
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

}  // namespace dhanbak::command
