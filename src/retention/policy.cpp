#include "retention/policy.hpp"

#include <algorithm>
#include <ctime>

namespace dhanbak::retention {
namespace {

using Sorted = std::vector<const BackupRef*>;  // one database's backups, newest first

// The period (day, ISO week or month, local time) a backup falls in, as "2026-10-31" etc.
std::string PeriodOf(const BackupRef& b, const char* format) {
  const std::time_t t = static_cast<std::time_t>(b.snapshot_time / 1000000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

void AddReason(std::map<std::string, std::string>& kept, const std::string& id, const std::string& reason) {
  std::string& r = kept[id];
  r += (r.empty() ? "" : ", ") + reason;
}

// One backup for each of the `count` newest periods that have one: the newest verified backup of
// the period, else its newest.
void KeepPerPeriod(const Sorted& list, int count, const char* format, const std::string& rule,
                   std::map<std::string, std::string>& kept) {
  if (count <= 0) return;
  std::string period;
  const BackupRef* chosen = nullptr;
  int periods = 0;
  auto settle = [&] {
    if (chosen) AddReason(kept, chosen->backup_id, rule + " " + period);
  };
  for (const BackupRef* b : list) {
    std::string p = PeriodOf(*b, format);
    if (p != period) {
      settle();
      if (++periods > count) return;
      period = p;
      chosen = b;
    } else if (b->verified && !chosen->verified) {
      chosen = b;
    }
  }
  settle();
}

std::string WithinText(std::chrono::seconds within) {
  const int64_t s = within.count();
  if (s % 86400 == 0) return std::to_string(s / 86400) + " days";
  if (s % 3600 == 0) return std::to_string(s / 3600) + " hours";
  return std::to_string(s) + " s";
}

}  // namespace

std::map<std::string, std::string> Kept(const std::vector<BackupRef>& backups, const RetentionConfig& policy) {
  std::map<std::string, Sorted> by_db;
  for (const auto& b : backups) by_db[b.database].push_back(&b);
  std::map<std::string, std::string> kept;
  for (auto& [db, list] : by_db) {
    std::sort(list.begin(), list.end(), [](const BackupRef* a, const BackupRef* b) {
      return a->snapshot_time != b->snapshot_time ? a->snapshot_time > b->snapshot_time : a->backup_id > b->backup_id;
    });
    const int64_t horizon = list.front()->snapshot_time - policy.keep_within.count() * 1000000LL;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]->snapshot_time >= horizon && policy.keep_within.count() > 0) {
        AddReason(kept, list[i]->backup_id, "within keep_within (" + WithinText(policy.keep_within) + ")");
      }
      if (static_cast<int>(i) < policy.keep_last) {
        AddReason(kept, list[i]->backup_id, "keep_last " + std::to_string(policy.keep_last));
      }
    }
    KeepPerPeriod(list, policy.keep_daily, "%Y-%m-%d", "daily", kept);
    KeepPerPeriod(list, policy.keep_weekly, "%G-W%V", "weekly", kept);
    KeepPerPeriod(list, policy.keep_monthly, "%Y-%m", "monthly", kept);
  }
  return kept;
}

std::set<std::string> Expired(const std::vector<BackupRef>& backups, const RetentionConfig& policy) {
  const auto kept = Kept(backups, policy);
  std::set<std::string> expired;
  for (const auto& b : backups) {
    if (!kept.count(b.backup_id)) expired.insert(b.backup_id);
  }
  return expired;
}

}  // namespace dhanbak::retention
