#include "command/retention_kept.hpp"

namespace dhanbak::command {

std::map<std::string, std::string> KeptByRetention(Context& ctx, std::vector<retention::BackupRef> backups) {
  const auto verified = ctx.catalog().VerifiedBackupIds();
  for (auto& b : backups) b.verified = verified.count(b.backup_id) != 0;
  return retention::Kept(backups, ctx.config().retention);
}

}  // namespace dhanbak::command
