// Retention policy (design §1 "Retention"), a pure function so it can be tested exhaustively.
// Per database a backup stays when any rule keeps it:
//   keep_within   every backup taken within this long of that database's newest backup (counted
//                 from the backup, not from today, so backups that silently stopped never make
//                 the history expire)
//   keep_last     the N newest, however old
//   keep_daily    one backup for each of the N newest days that have one (grandfather-father-son),
//   keep_weekly   ... ISO weeks (Monday to Sunday),
//   keep_monthly  ... calendar months: month-end closes kept for a year with keep_monthly = 12.
// Days, weeks and months are those of the local time zone (TZ), as an operator reads the
// schedule. In each period the newest *verified* backup is the one kept (a restore test proved
// it), else the newest.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dhanbak/config.hpp"

namespace dhanbak::retention {

struct BackupRef {
  std::string backup_id;
  std::string database;
  int64_t snapshot_time = 0;  // UnixMicros
  bool verified = false;      // its last restore test passed
};

// Backup id -> why it stays ("within keep_within (30 days)", "keep_last 3", "monthly 2026-10",
// several joined by ", "). A backup not in the map expires.
std::map<std::string, std::string> Kept(const std::vector<BackupRef>& backups, const RetentionConfig& policy);

// The ids of the backups the policy expires.
std::set<std::string> Expired(const std::vector<BackupRef>& backups, const RetentionConfig& policy);

}  // namespace dhanbak::retention
