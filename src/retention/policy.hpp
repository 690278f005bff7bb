// Retention policy (design §1 "Retention"), a pure function so it can be tested exhaustively:
// per database, keep every good backup taken within `keep_within` of that database's newest
// good backup (counted from the backup, not from today, so backups that silently stopped never
// make the history expire) and never fewer than `keep_last` good backups, however old.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace dhanbak::retention {

struct BackupRef {
  std::string backup_id;
  std::string database;
  int64_t snapshot_time = 0;  // UnixMicros
};

// Returns the ids of the backups the policy expires.
std::set<std::string> Expired(const std::vector<BackupRef>& backups, std::chrono::seconds keep_within, int keep_last);

}  // namespace dhanbak::retention
