#include "command/restore_names.hpp"

#include <ctime>

#include "dhanbak/error.hpp"
#include "format/crypto.hpp"

namespace dhanbak::command {
namespace {

std::string LocalStamp(UnixMicros t, const char* format) {
  std::time_t secs = static_cast<std::time_t>(t / 1000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

void CheckDatabaseName(const std::string& name, const std::string& what) {
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, what + " needs a database name");
  if (name.size() > kMaxDatabaseNameBytes) {
    throw Error(ErrorCode::kInvalidArgument, what + ": database name is " + std::to_string(name.size()) +
                                                 " bytes long; PostgreSQL allows at most 63");
  }
}

std::string TruncateUtf8(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string RestoringPrefix(const std::string& target) {
  return std::string(kRestoringPrefix) + crypto::Sha256Hex(target).substr(0, 12) + "_";
}

std::string RestoringName(const std::string& target, UnixMicros now) {
  return RestoringPrefix(target) + LocalStamp(now, "%Y%m%d%H%M%S");  // 45 bytes
}

std::string AsideName(const std::string& live, UnixMicros now) {
  std::string suffix = "_before_restore_" + LocalStamp(now, "%Y%m%d_%H%M%S");  // 31 bytes
  size_t room = kMaxDatabaseNameBytes - suffix.size();
  if (live.size() <= room) return live + suffix;
  std::string tag = "_" + crypto::Sha256Hex(live).substr(0, 8);
  return TruncateUtf8(live, room - tag.size()) + tag + suffix;
}

}  // namespace dhanbak::command
