#include "command/prune.hpp"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_set>

#include "command/missing_backups.hpp"
#include "command/retention_kept.hpp"
#include "common/encoding.hpp"
#include "common/log.hpp"
#include "common/test_pause.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/run_lock.hpp"
#include "pg/replication.hpp"
#include "retention/physical.hpp"
#include "retention/policy.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::command {
namespace {

// New chunks younger than this are never swept. The repository lock protocol already protects
// every running backup's chunks; this is a second line for a lock lost to a stalled heartbeat.
constexpr int64_t kGraceSeconds = 24 * 3600;

// Prune stops before it sweeps the chunks of a backup that is hidden or lost (kept by retention,
// manifest gone), saying how to recover; backups pruned elsewhere are forgotten.
void CheckCatalogAgainstStorage(Context& ctx, const std::vector<retention::BackupRef>& present,
                                const std::vector<std::string>& hidden, bool dry_run) {
  if (!hidden.empty()) {
    throw Error(ErrorCode::kCorruption,
                "prune stopped: the manifest(s) of backup(s) " + JoinComma(hidden) +
                    " are hidden in the bucket (a B2 hide marker; dhanbak never hides files, so a key with "
                    "writeFiles did). Sweeping now would delete the chunks they need. Recover them by deleting "
                    "the hide markers ('dhanbak check' lists each with its file id: b2 delete-file-version NAME "
                    "FILEID, with a key that has deleteFiles), then run prune again");
  }
  MissingBackups missing = SortOutMissing(ctx, present, !dry_run);
  if (!missing.lost.empty()) {
    throw Error(ErrorCode::kCorruption,
                "prune stopped: backup(s) " + JoinComma(missing.lost) +
                    " are good in the catalog and kept by retention, but their manifests are missing from the "
                    "repository (deleted by something other than prune). Sweeping now would delete the chunks "
                    "they need. Restore the manifests from a copy of the bucket if you have one; if they were "
                    "deleted on purpose, 'dhanbak catalog rebuild' makes the catalog match the repository");
  }
}

void AddChunks(const format::Manifest& m, std::unordered_set<std::string>& into) {
  auto add = [&](const format::StreamRef& ref) {
    for (auto& c : ref.NeededChunks()) into.insert(std::move(c));
  };
  add(m.schema);
  add(m.globals);
  for (const auto& t : m.tables) add(t.data);
}

// One deletion that may fail without stopping prune: Object Lock keeps the object (counted),
// anything else is reported and counted as a failure, the rest of the work goes on.
enum class Removal { kRemoved, kLocked, kFailed };

Removal TryRemove(storage::Storage& storage, const std::string& name, std::optional<Error>& first_failure) {
  try {
    storage.Remove(name);
    return Removal::kRemoved;
  } catch (const storage::ObjectLockedError&) {
    return Removal::kLocked;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    log::Error("could not delete " + name + ": " + e.what());
    if (!first_failure) first_failure = e;
    return Removal::kFailed;
  }
}

bool HoldsWal(storage::Storage& storage) {
  bool any = false;
  storage.List(wal::kWalPrefix, [&](const storage::ObjectInfo&) { any = true; });
  return any;
}

}  // namespace

int RunPrune(Context& ctx, const PruneOptions& o) {
  const Config& config = ctx.config();
  const auto& configured = config.postgres.databases;
  if (!o.forget_database.empty() &&
      std::find(configured.begin(), configured.end(), o.forget_database) != configured.end()) {
    throw Error(ErrorCode::kInvalidArgument,
                "prune --forget-database " + o.forget_database +
                    ": that database is still in [postgres] databases, so tonight's backup would start its history "
                    "again; remove it from the configuration first (nothing was deleted)");
  }
  auto locks = ctx.Lock(LockMode::kExclusive);
  auto& repo = ctx.repository();
  auto& storage = ctx.storage();
  std::optional<Error> failure;
  // A dry run deletes nothing, so it takes no lock (and never makes a backup wait).
  std::optional<format::RunLock> run_lock;
  if (!o.dry_run) {
    run_lock.emplace(storage, "prune", format::LockKind::kExclusive);
    for (const auto& l : run_lock->abandoned()) {
      if (l.reason != "released") log::Warning("removing an abandoned repository lock (" + l.reason + "): " + l.description);
      // A lock retained by the bucket's Object Lock stays until its retention ends: harmless.
      TryRemove(storage, l.name, failure);
    }
  }
  TestPausePoint("prune-locked");

  // The manifests in storage are the truth; the catalog only mirrors them.
  std::vector<retention::BackupRef> backups;
  std::vector<format::Manifest> manifests;
  for (const auto& id : repo.ListManifestIds()) {
    format::Manifest m = repo.GetManifest(id);  // an unreadable manifest stops prune: nothing is swept blind
    backups.push_back({m.backup_id, m.database, m.snapshot_time});
    manifests.push_back(std::move(m));
  }
  // A hidden manifest is not listed: sweeping now would take the chunks of a backup that is
  // only hidden (by a key with writeFiles), which its hide marker's deletion brings back.
  CheckCatalogAgainstStorage(ctx, backups, repo.HiddenManifestIds(), o.dry_run);
  const auto kept_by = KeptByRetention(ctx, backups);
  std::set<std::string> expired;
  for (const auto& b : backups) {
    if (!kept_by.count(b.backup_id) || b.database == o.forget_database) expired.insert(b.backup_id);
  }
  if (!o.forget_database.empty() &&
      std::none_of(backups.begin(), backups.end(), [&](const auto& b) { return b.database == o.forget_database; })) {
    log::Warning("the repository holds no backup of database '" + o.forget_database + "' to forget");
  }

  std::string url = ctx.repository_url();
  const bool json = ctx.options().json;
  const UnixMicros started = NowMicros();
  nlohmann::json deleted_list = nlohmann::json::array(), kept_list = nlohmann::json::array();
  int64_t manifests_deleted = 0, chunks_deleted = 0, bytes_freed = 0, locked = 0, young = 0, failed = 0;
  // The chunks to keep are those of every manifest that remains after the deletions, including
  // expired ones whose deletion Object Lock (or a failure) refused: they stay listed as restorable.
  std::unordered_set<std::string> referenced;
  for (const auto& m : manifests) {
    nlohmann::json entry{{"backup_id", m.backup_id}, {"database", m.database},
                         {"snapshot_time", FormatUtcIso(m.snapshot_time)}};
    if (!expired.count(m.backup_id)) {
      const std::string& why = kept_by.at(m.backup_id);
      entry["kept_by"] = why;
      if (o.dry_run && !json) {
        std::cout << "would keep backup " << m.backup_id << " of " << m.database << " taken "
                  << FormatLocalTime(m.snapshot_time) << ": " << why << "\n";
      }
      kept_list.push_back(entry);
      AddChunks(m, referenced);
      continue;
    }
    if (!json) {
      std::cout << (o.dry_run ? "would delete backup " : "deleting backup ") << m.backup_id << " of " << m.database
                << " taken " << FormatLocalTime(m.snapshot_time)
                << (m.database == o.forget_database ? " (--forget-database)" : " (no retention rule keeps it)") << "\n";
    }
    if (o.dry_run) {
      deleted_list.push_back(entry);
      continue;
    }
    run_lock->ThrowIfLost("deleting backup " + m.backup_id);
    switch (TryRemove(storage, format::Repository::ManifestName(m.backup_id), failure)) {
      case Removal::kRemoved:
        ctx.catalog().DeleteBackup(url, m.backup_id);
        ++manifests_deleted;
        deleted_list.push_back(entry);
        break;
      case Removal::kLocked:
        ++locked;
        entry["reason"] = "object lock";
        kept_list.push_back(entry);
        AddChunks(m, referenced);
        log::Info("backup " + m.backup_id + " is still under Object Lock; kept until its retention ends");
        break;
      case Removal::kFailed:
        ++failed;
        entry["reason"] = "delete failed";
        kept_list.push_back(entry);
        AddChunks(m, referenced);
        break;
    }
  }

  // The WAL archive and base backups: every point within keep_within of the newest base backup
  // stays reachable (retention/physical.hpp). Expired base backups go first; the WAL below the
  // oldest base backup still listed goes after them. An unreadable one stops prune.
  std::vector<format::BaseBackupManifest> bases;
  std::vector<retention::BaseBackupRef> base_refs;
  for (const auto& id : repo.ListBaseBackupIds()) {
    bases.push_back(repo.GetBaseBackup(id));
    const auto& m = bases.back();
    base_refs.push_back({m.backup_id, m.stopped_at, pg::ParseLsn(m.start_lsn) / m.segment_size});
  }
  const auto physical = retention::PlanPhysicalRetention(base_refs, config.retention.keep_within);
  int64_t base_backups_deleted = 0, wal_files_deleted = 0;
  uint64_t wal_cutoff = UINT64_MAX;
  for (size_t i = 0; i < bases.size(); ++i) {
    const auto& m = bases[i];
    bool keep = !physical.expired.count(m.backup_id);
    if (!keep) {
      if (!json) {
        std::cout << (o.dry_run ? "would delete base backup " : "deleting base backup ") << m.backup_id
                  << " (restorable from " << FormatLocalTime(m.stopped_at) << ")\n";
      }
      if (o.dry_run) {
        ++base_backups_deleted;
        continue;
      }
      run_lock->ThrowIfLost("deleting base backup " + m.backup_id);
      if (TryRemove(storage, format::kBaseBackupsPrefix + m.backup_id, failure) == Removal::kRemoved) {
        ctx.catalog().DeleteBaseBackup(url, m.backup_id);
        ++base_backups_deleted;
      } else {
        keep = true;  // still listed: still restorable, so its chunks and WAL stay
      }
    }
    if (keep) {
      for (auto& c : m.NeededChunks()) referenced.insert(std::move(c));
      wal_cutoff = std::min(wal_cutoff, base_refs[i].start_segno);
    }
  }
  if (!bases.empty() && wal_cutoff != UINT64_MAX) {
    std::vector<std::string> old_wal;
    storage.List(wal::kWalPrefix, [&](const storage::ObjectInfo& info) {
      std::string file;
      if (info.name.starts_with(wal::kGivenUpPrefix)) {
        file = info.name.substr(std::string(wal::kGivenUpPrefix).size());
      } else if (auto object = wal::ParseWalObjectName(info.name)) {
        file = object->file.name;
      }
      auto segno = retention::WalFileSegno(file, bases.front().segment_size);
      if (segno && *segno < wal_cutoff) old_wal.push_back(info.name);
    });
    for (const auto& name : old_wal) {
      if (o.dry_run) {
        ++wal_files_deleted;
        continue;
      }
      run_lock->ThrowIfLost("deleting old WAL");
      if (TryRemove(storage, name, failure) == Removal::kRemoved) ++wal_files_deleted;
    }
    if (!json && !old_wal.empty()) {
      std::cout << (o.dry_run ? "would delete " : "deleted ") << wal_files_deleted
                << " archived WAL file(s) older than the oldest base backup kept\n";
    }
  } else if (bases.empty() && HoldsWal(storage)) {
    log::Warning("the WAL archive is kept whole: there is no base backup to tell which WAL is still needed "
                 "(run 'dhanbak base-backup' weekly)");
  }

  int64_t now = std::time(nullptr);
  std::vector<storage::ObjectInfo> objects;
  storage.List("chunks/", [&](const storage::ObjectInfo& info) { objects.push_back(info); });
  // A kept chunk stored as a delta keeps its base, whatever the manifests say (a backup that
  // deduplicated against the delta may have been written before it recorded bases).
  for (const auto& info : objects) {
    auto chunk = format::Repository::ParseChunkName(info.name);
    if (chunk && !chunk->base.empty() && referenced.count(chunk->id)) referenced.insert(chunk->base);
  }
  std::vector<storage::ObjectInfo> garbage;
  for (const auto& info : objects) {
    auto chunk = format::Repository::ParseChunkName(info.name);
    if (chunk && referenced.count(chunk->id)) continue;
    if (info.modified_unix == 0 || now - info.modified_unix < kGraceSeconds) {
      ++young;
      continue;
    }
    garbage.push_back(info);
  }
  TestPausePoint("prune-sweep");
  for (const auto& g : garbage) {
    if (o.dry_run) {
      bytes_freed += static_cast<int64_t>(g.size);
      ++chunks_deleted;
      continue;
    }
    run_lock->ThrowIfLost("deleting unreferenced chunks");
    switch (TryRemove(storage, g.name, failure)) {
      case Removal::kRemoved:
        bytes_freed += static_cast<int64_t>(g.size);
        ++chunks_deleted;
        break;
      case Removal::kLocked:
        ++locked;
        break;
      case Removal::kFailed:
        ++failed;
        break;
    }
  }
  const size_t backups_deleted = o.dry_run ? expired.size() : static_cast<size_t>(manifests_deleted);
  std::string summary = std::string(o.dry_run ? "would delete " : "deleted ") + std::to_string(backups_deleted) +
                        " backup(s) and " + std::to_string(chunks_deleted) + " unreferenced chunk(s), " +
                        log::FormatBytes(static_cast<double>(bytes_freed)) + "; kept " +
                        std::to_string(kept_list.size()) + " backup(s)";
  if (base_backups_deleted || wal_files_deleted) {
    summary += "; " + std::string(o.dry_run ? "would delete " : "deleted ") + std::to_string(base_backups_deleted) +
               " base backup(s) and " + std::to_string(wal_files_deleted) + " WAL file(s)";
  }
  if (young) summary += "; " + std::to_string(young) + " unreferenced chunk(s) younger than the 24 h grace period kept";
  if (locked) summary += "; " + std::to_string(locked) + " object(s) still under Object Lock kept";
  if (failed) summary += "; " + std::to_string(failed) + " deletion(s) failed (kept; the next prune tries again)";
  if (!json) std::cout << summary << "\n";
  if (!o.dry_run) ctx.catalog().RecordPrune(NowMicros(), manifests_deleted, chunks_deleted, summary);
  if (json) {
    const UnixMicros finished = NowMicros();
    nlohmann::json out{
        {"command", "prune"},
        {"repository", url},
        {"dry_run", o.dry_run},
        {"ok", failed == 0},
        {"duration_seconds", static_cast<double>(finished - started) / 1e6},
        {"retention",
         {{"keep_within_seconds", config.retention.keep_within.count()},
          {"keep_last", config.retention.keep_last},
          {"keep_daily", config.retention.keep_daily},
          {"keep_weekly", config.retention.keep_weekly},
          {"keep_monthly", config.retention.keep_monthly}}},
        {"forget_database", o.forget_database.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.forget_database)},
        {"counts",
         {{"backups_deleted", deleted_list.size()},
          {"backups_kept", kept_list.size()},
          {"chunks_deleted", chunks_deleted},
          {"bytes_freed", bytes_freed},
          {"young_chunks_kept", young},
          {"base_backups_deleted", base_backups_deleted},
          {"wal_files_deleted", wal_files_deleted},
          {"object_locked_kept", locked},
          {"failed_deletions", failed}}},
        {"deleted_backups", deleted_list},
        {"kept_backups", kept_list}};
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (failure) {
    log::Error("prune finished with " + std::to_string(failed) + " failed deletion(s); first: " + failure->what());
    return ExitCodeFor(failure->code());
  }
  return 0;
}

}  // namespace dhanbak::command
