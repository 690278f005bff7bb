#include "common/time_spec.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>

#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): exact for every
// year, independent of time_t and of the C library's range.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// UTC offset (seconds east) of the local zone at instant t.
int64_t LocalOffsetAt(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  if (localtime_r(&tt, &tm) == nullptr) return 0;
  return tm.tm_gmtoff;
}

// Local wall-clock seconds (`naive`, counted as if the wall clock were UTC) to a UTC instant.
// Tries the offsets in force around that time and keeps those that map back to the same wall
// clock; the earliest wins when the wall time occurs twice.
int64_t LocalToUtc(int64_t naive) {
  const int64_t before = LocalOffsetAt(naive - kSecondsPerDay);
  const int64_t candidates[] = {before, LocalOffsetAt(naive), LocalOffsetAt(naive + kSecondsPerDay)};
  std::optional<int64_t> best;
  for (int64_t offset : candidates) {
    const int64_t t = naive - offset;
    if (LocalOffsetAt(t) == offset && (!best || t < *best)) best = t;
  }
  // Inside a spring-forward gap no offset fits: read it with the offset before the change.
  return best ? *best : naive - before;
}

// The fields of "YYYY-MM-DD[(T| )HH:MM[:SS[.fffffffff]][Z|±HH[:MM]]]".
struct Parsed {
  int64_t year = 0;
  int month = 0, day = 0;
  bool has_time = false, has_seconds = false;
  char separator = 0;
  int hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
  bool has_fraction = false;
  bool has_offset = false, zulu = false;
  int64_t offset_seconds = 0;  // east of UTC
};

class Scanner {
 public:
  explicit Scanner(const std::string& text) : text_(text) {}
  bool Done() const { return pos_ == text_.size(); }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool Accept(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  bool PeekDigit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }
  // Exactly `n` digits.
  bool Digits(int n, int64_t* out) {
    int64_t value = 0;
    for (int i = 0; i < n; ++i) {
      if (!PeekDigit()) return false;
      value = value * 10 + (text_[pos_++] - '0');
    }
    *out = value;
    return true;
  }
  bool Digits(int n, int* out) {
    int64_t value = 0;
    if (!Digits(n, &value)) return false;
    *out = static_cast<int>(value);
    return true;
  }

 private:
  const std::string& text_;
  size_t pos_ = 0;
};

bool ParseOffset(Scanner& s, Parsed* p) {
  if (s.Accept('Z') || s.Accept('z')) {
    p->has_offset = p->zulu = true;
    return true;
  }
  int sign = 0;
  if (s.Accept('+')) sign = 1;
  else if (s.Accept('-')) sign = -1;
  if (sign == 0) return true;  // no offset
  int hours = 0, minutes = 0;
  if (!s.Digits(2, &hours)) return false;
  if (s.Accept(':')) {
    if (!s.Digits(2, &minutes)) return false;
  } else if (s.PeekDigit() && !s.Digits(2, &minutes)) {
    return false;
  }
  if (hours > 18 || minutes > 59) return false;
  p->has_offset = true;
  p->offset_seconds = sign * (hours * 3600 + minutes * 60);
  return true;
}

std::optional<Parsed> ParseIsoLike(const std::string& text) {
  Scanner s(text);
  Parsed p;
  if (!s.Digits(4, &p.year) || !s.Accept('-') || !s.Digits(2, &p.month) || !s.Accept('-') ||
      !s.Digits(2, &p.day)) {
    return std::nullopt;
  }
  if (p.month < 1 || p.month > 12 || p.day < 1 || p.day > DaysInMonth(p.year, p.month)) return std::nullopt;
  if (s.Done()) return p;
  if (s.Accept(' ')) {
    p.separator = ' ';
  } else if (s.Accept('T') || s.Accept('t')) {
    p.separator = 'T';
  } else {
    return std::nullopt;
  }
  p.has_time = true;
  if (!s.Digits(2, &p.hour) || !s.Accept(':') || !s.Digits(2, &p.minute)) return std::nullopt;
  if (s.Accept(':')) {
    p.has_seconds = true;
    if (!s.Digits(2, &p.second)) return std::nullopt;
    if (s.Accept('.')) {
      p.has_fraction = true;
      int digits = 0;
      while (s.PeekDigit()) {
        int64_t digit = 0;
        s.Digits(1, &digit);
        if (digits < 6) p.micros = p.micros * 10 + digit;
        if (++digits > 9) return std::nullopt;
      }
      if (digits == 0) return std::nullopt;
      for (int i = digits; i < 6; ++i) p.micros *= 10;
    }
  }
  if (p.hour > 23 || p.minute > 59 || p.second > 59) return std::nullopt;
  if (!ParseOffset(s, &p) || !s.Done()) return std::nullopt;
  return p;
}

int64_t NaiveSeconds(const Parsed& p) {
  return DaysFromCivil(p.year, p.month, p.day) * kSecondsPerDay + p.hour * 3600 + p.minute * 60 + p.second;
}

[[noreturn]] void Malformed(const std::string& text) {
  throw Error(ErrorCode::kInvalidArgument,
              "invalid time '" + text +
                  "': expected latest, YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DD HH:MM[:SS[.ffffff]], "
                  "optionally followed by Z or an offset such as +05:30");
}

}  // namespace

TimeSpec ParseTimeSpec(const std::string& text, UnixMicros now) {
  if (text == "latest") return TimeSpec{true, 0};
  std::optional<Parsed> p = ParseIsoLike(text);
  if (!p) Malformed(text);
  tzset();  // follow the current TZ
  TimeSpec spec;
  if (!p->has_time) {
    const int64_t day_naive = DaysFromCivil(p->year, p->month, p->day) * kSecondsPerDay;
    // End of day = just before the next local midnight; a DST day may be 23 or 25 hours long.
    spec.at = LocalToUtc(day_naive + kSecondsPerDay) * kMicrosPerSecond - 1;
    if (spec.at > now && LocalToUtc(day_naive) * kMicrosPerSecond <= now) spec.at = now;
  } else {
    const int64_t naive = NaiveSeconds(*p);
    const int64_t seconds = p->has_offset ? naive - p->offset_seconds : LocalToUtc(naive);
    spec.at = seconds * kMicrosPerSecond + p->micros;
  }
  if (spec.at > now) throw Error(ErrorCode::kInvalidArgument, "time '" + text + "' is in the future");
  return spec;
}

UnixMicros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatLocalTime(UnixMicros t) {
  tzset();
  const int64_t seconds = FloorDiv(t, kMicrosPerSecond);
  const int64_t offset = LocalOffsetAt(seconds);
  int64_t year = 0;
  int month = 0, day = 0;
  const int64_t local = seconds + offset;
  CivilFromDays(FloorDiv(local, kSecondsPerDay), &year, &month, &day);
  const int64_t sod = local - FloorDiv(local, kSecondsPerDay) * kSecondsPerDay;
  const int64_t abs_offset = offset < 0 ? -offset : offset;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d:%02d%c%02d:%02d", static_cast<long long>(year), month,
                day, static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                offset < 0 ? '-' : '+', static_cast<int>(abs_offset / 3600), static_cast<int>(abs_offset / 60 % 60));
  return buf;
}

std::string FormatUtcIso(UnixMicros t) {
  const int64_t seconds = FloorDiv(t, kMicrosPerSecond);
  const int64_t micros = t - seconds * kMicrosPerSecond;
  const int64_t days = FloorDiv(seconds, kSecondsPerDay);
  const int64_t sod = seconds - days * kSecondsPerDay;
  int64_t year = 0;
  int month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", static_cast<long long>(year), month, day,
                static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                static_cast<long long>(micros));
  return buf;
}

UnixMicros ParseUtcIso(const std::string& text) {
  std::optional<Parsed> p = ParseIsoLike(text);
  if (!p || p->separator != 'T' || !p->has_seconds || !p->zulu) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid utc timestamp '" + text + "': expected YYYY-MM-DDTHH:MM:SS[.ffffff]Z");
  }
  return NaiveSeconds(*p) * kMicrosPerSecond + p->micros;
}

}  // namespace dhanbak
