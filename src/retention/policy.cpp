#include "retention/policy.hpp"

#include <algorithm>
#include <map>

namespace dhanbak::retention {

std::set<std::string> Expired(const std::vector<BackupRef>& backups, std::chrono::seconds keep_within, int keep_last) {
  std::map<std::string, std::vector<const BackupRef*>> by_db;
  for (const auto& b : backups) by_db[b.database].push_back(&b);
  std::set<std::string> expired;
  for (auto& [db, list] : by_db) {
    std::sort(list.begin(), list.end(), [](const BackupRef* a, const BackupRef* b) {
      return a->snapshot_time != b->snapshot_time ? a->snapshot_time > b->snapshot_time : a->backup_id > b->backup_id;
    });
    int64_t horizon = list.front()->snapshot_time - keep_within.count() * 1000000LL;
    for (size_t i = 0; i < list.size(); ++i) {
      bool within = list[i]->snapshot_time >= horizon;
      bool among_last = static_cast<int>(i) < keep_last;
      if (!within && !among_last) expired.insert(list[i]->backup_id);
    }
  }
  return expired;
}

}  // namespace dhanbak::retention
