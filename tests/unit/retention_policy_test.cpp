#include <doctest/doctest.h>

#include "retention/policy.hpp"

namespace retention_policy_test {  // this file's names, apart from its unity batch's

using dhanbak::retention::BackupRef;
using dhanbak::retention::Expired;

namespace {
constexpr int64_t kDay = 24LL * 3600 * 1000000;
std::chrono::seconds Days(int n) { return std::chrono::seconds(n * 24 * 3600); }
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

}  // namespace retention_policy_test
