#include <doctest/doctest.h>

#include <ctime>

#include "retention/policy.hpp"

namespace retention_policy_test {  // this file's names, apart from its unity batch's

using dhanbak::retention::BackupRef;
using dhanbak::RetentionConfig;
using dhanbak::retention::Kept;


namespace {
constexpr int64_t kDay = 24LL * 3600 * 1000000;
std::chrono::seconds Days(int n) { return std::chrono::seconds(n * 24 * 3600); }

std::set<std::string> Expired(const std::vector<BackupRef>& b, std::chrono::seconds within, int last) {
  RetentionConfig policy;
  policy.keep_within = within;
  policy.keep_last = last;
  return dhanbak::retention::Expired(b, policy);
}

// Seconds since the epoch of a local time (the policy's days, weeks and months are local).
int64_t LocalMicros(int year, int month, int day, int hour = 2) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000000;
}

// One nightly backup (02:00 local) per day from `first` for `days` days, ids "YYYY-MM-DD".
std::vector<BackupRef> Nightly(int year, int month, int day, int days) {
  std::vector<BackupRef> b;
  for (int i = 0; i < days; ++i) {
    const int64_t t = LocalMicros(year, month, day + i);
    const std::time_t s = static_cast<std::time_t>(t / 1000000);
    std::tm tm{};
    localtime_r(&s, &tm);
    char id[16];
    std::strftime(id, sizeof id, "%Y-%m-%d", &tm);
    b.push_back({id, "ledger", t});
  }
  return b;
}
}  // namespace

TEST_CASE("retention: keep everything within keep_within of the newest good backup") {
  std::vector<BackupRef> b;
  for (int d = 0; d < 40; ++d) b.push_back({"s" + std::to_string(d), "sales", 1000 * kDay - d * kDay});
  auto e = Expired(b, Days(30), 3);
  CHECK(e.size() == 9);  // days 31..39 back from the newest
  CHECK(e.count("s30") == 0);
  CHECK(e.count("s31") == 1);
  CHECK(e.count("s39") == 1);
}

TEST_CASE("retention: the window is counted from the newest backup, not from today") {
  // Backups stopped 100 days ago: the last 30 days of history before that stay.
  std::vector<BackupRef> b;
  for (int d = 100; d < 140; ++d) b.push_back({"s" + std::to_string(d), "sales", 1000 * kDay - d * kDay});
  auto e = Expired(b, Days(30), 3);
  CHECK(e.size() == 9);
  CHECK(e.count("s100") == 0);
  CHECK(e.count("s130") == 0);
  CHECK(e.count("s131") == 1);
}

TEST_CASE("retention: never fewer than keep_last per database, however old") {
  std::vector<BackupRef> b{{"a", "sales", 0}, {"b", "sales", 100 * kDay}, {"c", "sales", 200 * kDay},
                           {"d", "sales", 300 * kDay}, {"p", "payroll", 5 * kDay}};
  auto e = Expired(b, Days(1), 3);
  CHECK(e == std::set<std::string>{"a"});
  CHECK(Expired(b, Days(0), 1) == std::set<std::string>{"a", "b", "c"});
}

TEST_CASE("retention: databases are independent") {
  std::vector<BackupRef> b{{"s1", "sales", 100 * kDay}, {"s2", "sales", 50 * kDay},
                           {"p1", "payroll", 10 * kDay}, {"p2", "payroll", 9 * kDay}};
  auto e = Expired(b, Days(30), 1);
  CHECK(e == std::set<std::string>{"s2"});
}

TEST_CASE("retention: keep_daily, keep_weekly and keep_monthly keep one backup per period beyond the window") {
  // A year of nightly backups, 2025-12-01 .. 2026-11-30; 30 days kept by keep_within.
  std::vector<BackupRef> b = Nightly(2025, 12, 1, 365);
  REQUIRE(b.back().backup_id == "2026-11-30");
  RetentionConfig policy;
  policy.keep_within = Days(30);
  policy.keep_last = 3;
  policy.keep_monthly = 12;
  auto kept = Kept(b, policy);
  // 2026-10-31 .. 2026-11-30 by keep_within (30 days back from the newest, both ends kept) plus
  // the newest backup of each of the 12 newest months: 2025-12-31 .. 2026-09-30 are the 10 of
  // them outside the window (October's and November's newest are inside).
  CHECK(kept.size() == 31 + 10);
  CHECK(kept.at("2026-10-31") == "within keep_within (30 days), monthly 2026-10");
  CHECK(kept.at("2026-02-28") == "monthly 2026-02");
  CHECK(kept.at("2025-12-31") == "monthly 2025-12");
  CHECK(kept.count("2025-12-30") == 0);
  CHECK(kept.at("2026-11-30") == "within keep_within (30 days), keep_last 3, monthly 2026-11");
  CHECK(kept.count("2026-10-30") == 0);

  // Seven days and four ISO weeks (Monday to Sunday): Sundays are the newest of their weeks.
  policy.keep_within = Days(0);
  policy.keep_last = 1;
  policy.keep_monthly = 0;
  policy.keep_daily = 7;
  policy.keep_weekly = 4;
  kept = Kept(b, policy);
  std::set<std::string> ids;
  for (const auto& [id, why] : kept) ids.insert(id);
  // 2026-11-30 is a Monday: its week is 2026-W49; the Sundays before close W48, W47, W46.
  CHECK(ids == std::set<std::string>{"2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28",
                                     "2026-11-29", "2026-11-30", "2026-11-22", "2026-11-15"});
  CHECK(kept.at("2026-11-29") == "daily 2026-11-29, weekly 2026-W48");
  CHECK(kept.at("2026-11-22") == "weekly 2026-W47");
  CHECK(kept.at("2026-11-30") == "keep_last 1, daily 2026-11-30, weekly 2026-W49");
  CHECK(dhanbak::retention::Expired(b, policy).size() == 365 - 9);
}

TEST_CASE("retention: in each period the newest verified backup is the one kept") {
  std::vector<BackupRef> b = Nightly(2026, 9, 1, 91);  // 2026-09-01 .. 2026-11-30
  for (auto& r : b) r.verified = r.backup_id == "2026-10-18" || r.backup_id == "2026-10-11";
  RetentionConfig policy;
  policy.keep_within = Days(0);
  policy.keep_last = 1;
  policy.keep_monthly = 3;
  auto kept = Kept(b, policy);
  CHECK(kept.at("2026-10-18") == "monthly 2026-10");  // the newest verified one of October
  CHECK(kept.count("2026-10-31") == 0);
  CHECK(kept.count("2026-10-11") == 0);
  CHECK(kept.at("2026-09-30") == "monthly 2026-09");  // none verified: the newest
  CHECK(kept.size() == 3);
}

TEST_CASE("retention: periods without a backup do not count, and databases keep their own periods") {
  // Backups only in January and March: keep_monthly = 2 keeps one of each, not March alone.
  std::vector<BackupRef> b{{"jan", "ledger", LocalMicros(2026, 1, 10)}, {"mar", "ledger", LocalMicros(2026, 3, 10)},
                           {"mar2", "ledger", LocalMicros(2026, 3, 5)}, {"p", "payroll", LocalMicros(2025, 6, 1)}};
  RetentionConfig policy;
  policy.keep_within = Days(0);
  policy.keep_last = 1;
  policy.keep_monthly = 2;
  CHECK(dhanbak::retention::Expired(b, policy) == std::set<std::string>{"mar2"});
}

}  // namespace retention_policy_test
