// Names of the databases a restore creates besides its target, always within PostgreSQL's
// 63-byte limit (NAMEDATALEN - 1), whatever the target's name:
//   dhanbak_restoring_<hash of the target>_<YYYYMMDDHHMMSS>   where a restore is built, renamed
//                                                            to its target only at the very end;
//   <live>_before_restore_<YYYYMMDD_HHMMSS>                   the database --replace keeps aside
//                                                            (a long <live> is shortened and a
//                                                            hash of it appended).
// A database left under a "restoring" name by a killed run is a leftover: reported by status and
// by every restore, and removed by the next restore of the same target.
#pragma once

#include <string>
#include <vector>

#include "common/time_spec.hpp"

namespace dhanbak::command {

inline constexpr size_t kMaxDatabaseNameBytes = 63;
inline constexpr const char* kRestoringPrefix = "dhanbak_restoring_";

// Throws Error(kInvalidArgument) for an empty name or one longer than 63 bytes (`what` names
// the option, e.g. "--target-db").
void CheckDatabaseName(const std::string& name, const std::string& what);

// "dhanbak_restoring_<12 hex of SHA-256(target)>_" — every restore of `target` starts with it.
std::string RestoringPrefix(const std::string& target);
std::string RestoringName(const std::string& target, UnixMicros now);
std::string AsideName(const std::string& live, UnixMicros now);

// The first `max_bytes` bytes of `s`, cut before a UTF-8 continuation byte.
std::string TruncateUtf8(const std::string& s, size_t max_bytes);

}  // namespace dhanbak::command
