// TIME syntax and timestamp formats, with the time zone pinned per test (POSIX TZ strings, so
// the tests do not depend on the tzdata package).
#include "common/time_spec.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "dhanbak/error.hpp"

namespace dhanbak::time_spec_test {  // this file's names, apart from its unity batch's
namespace {

// Sets TZ for the lifetime of the object and restores the previous value.
struct ScopedTz {
  std::optional<std::string> old;
  explicit ScopedTz(const char* tz) {
    if (const char* v = std::getenv("TZ")) old = v;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old) ::setenv("TZ", old->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }
};

constexpr const char* kIndia = "IST-5:30";                      // Asia/Kolkata, no DST
constexpr const char* kNewYork = "EST5EDT,M3.2.0,M11.1.0";     // America/New_York rules

UnixMicros Utc(const char* iso) { return ParseUtcIso(iso); }
const UnixMicros kFarFuture = Utc("2100-01-01T00:00:00Z");

UnixMicros At(const std::string& text, UnixMicros now = kFarFuture) {
  TimeSpec spec = ParseTimeSpec(text, now);
  CHECK_FALSE(spec.latest);
  return spec.at;
}

std::string ErrorOf(const std::string& text, UnixMicros now = kFarFuture) {
  try {
    ParseTimeSpec(text, now);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    return e.what();
  }
  FAIL("no error for '" << text << "'");
  return {};
}

}  // namespace

TEST_CASE("time: latest") {
  TimeSpec spec = ParseTimeSpec("latest", 0);
  CHECK(spec.latest);
}

TEST_CASE("time: local times in every accepted spelling") {
  ScopedTz tz(kIndia);
  const UnixMicros expected = Utc("2024-01-15T09:00:00Z");
  CHECK(expected == 1705309200LL * 1000000);
  CHECK(At("2024-01-15T14:30") == expected);
  CHECK(At("2024-01-15 14:30") == expected);
  CHECK(At("2024-01-15T14:30:00") == expected);
  CHECK(At("2024-01-15 14:30:00") == expected);
  CHECK(At("2024-01-15t14:30:00") == expected);
  CHECK(At("2024-01-15 14:30:00.25") == expected + 250000);
  CHECK(At("2024-01-15 14:30:00.000001") == expected + 1);
  CHECK(At("2024-01-15 14:30:00.123456789") == expected + 123456);  // truncated to microseconds
}

TEST_CASE("time: explicit offsets ignore TZ") {
  ScopedTz tz(kNewYork);
  const UnixMicros expected = Utc("2024-01-15T09:00:00Z");
  CHECK(At("2024-01-15 14:30:00+05:30") == expected);
  CHECK(At("2024-01-15T14:30+05:30") == expected);
  CHECK(At("2024-01-15T14:30:00+0530") == expected);
  CHECK(At("2024-01-15T09:00:00Z") == expected);
  CHECK(At("2024-01-15T09:00z") == expected);
  CHECK(At("2024-01-15T04:00:00-05:00") == expected);
  CHECK(At("2024-01-15T10:00:00+01") == expected);
  CHECK(At("2024-01-15T09:00:00.5Z") == expected + 500000);
}

TEST_CASE("time: a date alone is the end of that day in TZ") {
  {
    ScopedTz tz(kIndia);
    CHECK(At("2024-01-15") == Utc("2024-01-15T18:29:59.999999Z"));
    CHECK(At("2024-02-29") == Utc("2024-02-29T18:29:59.999999Z"));
  }
  {
    ScopedTz tz("UTC0");
    CHECK(At("2024-01-15") == Utc("2024-01-15T23:59:59.999999Z"));
  }
  {
    ScopedTz tz(kNewYork);
    CHECK(At("2024-01-15") == Utc("2024-01-16T04:59:59.999999Z"));
    // 23-hour day (spring forward) and 25-hour day (fall back): still the next local midnight.
    CHECK(At("2024-03-10") == Utc("2024-03-11T03:59:59.999999Z"));
    CHECK(At("2024-11-03") == Utc("2024-11-04T04:59:59.999999Z"));
  }
}

TEST_CASE("time: the zone's real tzdata agrees when installed") {
  if (std::FILE* f = std::fopen("/usr/share/zoneinfo/Asia/Kolkata", "rb")) {
    std::fclose(f);
    ScopedTz tz("Asia/Kolkata");
    CHECK(At("2024-01-15") == Utc("2024-01-15T18:29:59.999999Z"));
    CHECK(FormatLocalTime(Utc("2024-01-15T09:00:00Z")) == "2024-01-15 14:30:00+05:30");
  }
}

TEST_CASE("time: wall-clock times around DST changes") {
  ScopedTz tz(kNewYork);
  // 01:30 happens twice on 2024-11-03: the first (EDT) occurrence is meant.
  CHECK(At("2024-11-03 01:30") == Utc("2024-11-03T05:30:00Z"));
  // 02:30 never happens on 2024-03-10: read with the offset before the change (EST).
  CHECK(At("2024-03-10 02:30") == Utc("2024-03-10T07:30:00Z"));
  CHECK(At("2024-07-01 12:00") == Utc("2024-07-01T16:00:00Z"));
}

TEST_CASE("time: the future is refused, today's date means now") {
  ScopedTz tz(kIndia);
  const UnixMicros now = Utc("2024-01-15T10:00:00Z");  // 15:30 local
  CHECK(At("2024-01-15", now) == now);
  CHECK(At("2024-01-14", now) == Utc("2024-01-14T18:29:59.999999Z"));
  CHECK(At("2024-01-15 15:30", now) == now);
  CHECK(ErrorOf("2024-01-15 15:30:01", now) == "time '2024-01-15 15:30:01' is in the future");
  CHECK(ErrorOf("2024-01-16", now) == "time '2024-01-16' is in the future");
  CHECK(ErrorOf("2024-01-15T10:00:00.000001Z", now) == "time '2024-01-15T10:00:00.000001Z' is in the future");
}

TEST_CASE("time: malformed input is refused") {
  for (const char* bad :
       {"", "yesterday", "Latest", "2024-1-15", "2024/01/15", "24-01-15", "2024-13-01", "2024-00-10", "2024-02-30",
        "2023-02-29", "2024-01-00", "2024-01-15T25:00", "2024-01-15T14:60", "2024-01-15T14:30:60", "2024-01-15T14",
        "2024-01-15T14:30:", "2024-01-15T14:30:00.", "2024-01-15T14:30:00.1234567890", "2024-01-15Z",
        "2024-01-15T14:30+5", "2024-01-15T14:30+19:00", "2024-01-15T14:30:00+05:30x", " 2024-01-15", "2024-01-15 ",
        "2024-01-15  14:30", "2024-01-15X14:30"}) {
    CAPTURE(bad);
    CHECK(ErrorOf(bad).rfind("invalid time '" + std::string(bad) + "': expected latest, YYYY-MM-DD", 0) == 0);
  }
}

TEST_CASE("time: UTC ISO format round-trips") {
  CHECK(FormatUtcIso(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(FormatUtcIso(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(FormatUtcIso(1705309200LL * 1000000 + 123456) == "2024-01-15T09:00:00.123456Z");
  CHECK(FormatUtcIso(Utc("2000-02-29T23:59:59Z")) == "2000-02-29T23:59:59.000000Z");
  CHECK(ParseUtcIso("2024-01-15T09:00:00Z") == 1705309200LL * 1000000);
  CHECK(ParseUtcIso("2024-01-15T09:00:00.5Z") == 1705309200LL * 1000000 + 500000);
  for (UnixMicros t : {UnixMicros{0}, UnixMicros{-1}, UnixMicros{951782399999999}, UnixMicros{1705309200123456},
                       UnixMicros{4102444799999999}, UnixMicros{-2208988800000000}}) {
    CAPTURE(t);
    CHECK(ParseUtcIso(FormatUtcIso(t)) == t);
  }
  for (const char* bad : {"2024-01-15 09:00:00Z", "2024-01-15T09:00Z", "2024-01-15T09:00:00",
                          "2024-01-15T09:00:00+00:00", "2024-01-15", "garbage"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(ParseUtcIso(bad), Error);
  }
}

TEST_CASE("time: local format shows the local offset") {
  const UnixMicros t = Utc("2024-01-15T09:00:00.999Z");
  {
    ScopedTz tz(kIndia);
    CHECK(FormatLocalTime(t) == "2024-01-15 14:30:00+05:30");
  }
  {
    ScopedTz tz(kNewYork);
    CHECK(FormatLocalTime(t) == "2024-01-15 04:00:00-05:00");
    CHECK(FormatLocalTime(Utc("2024-07-01T16:00:00Z")) == "2024-07-01 12:00:00-04:00");
  }
  {
    ScopedTz tz("UTC0");
    CHECK(FormatLocalTime(t) == "2024-01-15 09:00:00+00:00");
  }
  {
    // A formatted local time parses back to the same second.
    ScopedTz tz(kIndia);
    CHECK(At(FormatLocalTime(t)) == Utc("2024-01-15T09:00:00Z"));
  }
}

TEST_CASE("time: NowMicros is the wall clock") {
  const UnixMicros now = NowMicros();
  const int64_t seconds = static_cast<int64_t>(std::time(nullptr));
  CHECK(now / 1000000 >= seconds - 2);
  CHECK(now / 1000000 <= seconds + 2);
}

}  // namespace dhanbak::time_spec_test
