#include "command/missing_backups.hpp"

#include "command/retention_kept.hpp"
#include "common/log.hpp"

namespace dhanbak::command {

MissingBackups SortOutMissing(Context& ctx, const std::vector<retention::BackupRef>& present, bool forget) {
  const std::string url = ctx.repository_url();
  std::set<std::string> listed;
  for (const auto& b : present) listed.insert(b.backup_id);
  std::vector<retention::BackupRef> all = present;
  std::vector<std::string> missing;
  for (const auto& b : ctx.catalog().ListBackups(url, std::nullopt)) {
    if (b.status != "ok" || listed.count(b.backup_id)) continue;
    all.push_back({b.backup_id, b.database, b.snapshot_time});
    missing.push_back(b.backup_id);
  }
  MissingBackups out;
  if (missing.empty()) return out;
  const auto kept = KeptByRetention(ctx, all);
  for (const auto& id : missing) {
    if (kept.count(id)) {
      out.lost.push_back(id);
      continue;
    }
    out.pruned.push_back(id);
    if (forget) {
      ctx.catalog().DeleteBackup(url, id);
      ctx.catalog().ClearLostBackup(url, id);
      log::Info("backup " + id + " was pruned (retention expired it), maybe by another host; removed from the catalog");
    }
  }
  return out;
}

}  // namespace dhanbak::command
