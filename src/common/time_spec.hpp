// Points in time: the TIME syntax of the command line (design §2) and the timestamp formats
// used in output, manifests and the catalog.
//
// Local time means the host's time zone as given by TZ (re-read on every call, so tests and
// long-running processes follow changes). Around DST changes a local wall-clock time that
// occurs twice means its first occurrence, and one that never occurs (inside the spring-forward
// gap) is read with the offset in force before the change, as mktime does.
#pragma once

#include <cstdint>
#include <string>

namespace dhanbak {

// Microseconds since the Unix epoch, UTC.
using UnixMicros = int64_t;

struct TimeSpec {
  bool latest = false;
  UnixMicros at = 0;  // meaningful when !latest
};

// Parses `latest`, `2024-01-15`, `2024-01-15T14:30`, `2024-01-15 14:30`, `2024-01-15T14:30:00`,
// `2024-01-15 14:30:00.25`, with an optional `Z`, `+05:30`, `+0530` or `+05` offset after a time.
// Without an offset the time is local. A date alone means the end of that day in local time (the
// last microsecond before the next local midnight); for today, that is `now`, because "the newest
// backup of today" is what someone typing today's date during an incident wants.
// Throws Error(kInvalidArgument) on malformed input or a time after `now`
// ("time '...' is in the future").
TimeSpec ParseTimeSpec(const std::string& text, UnixMicros now);

UnixMicros NowMicros();

// "2024-01-15 14:30:00+05:30": local time, whole seconds, with the local UTC offset.
std::string FormatLocalTime(UnixMicros t);
// "2024-01-15T09:00:00.123456Z": UTC, always six fractional digits.
std::string FormatUtcIso(UnixMicros t);
// Inverse of FormatUtcIso; the fraction (1 to 9 digits, truncated to microseconds) is optional
// and the trailing Z is required. Throws Error(kInvalidArgument).
UnixMicros ParseUtcIso(const std::string& text);

}  // namespace dhanbak
