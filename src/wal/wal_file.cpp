#include "wal/wal_file.hpp"

#include <cstdio>
#include <cstring>

namespace dhanbak::wal {
namespace {

bool IsUpperHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

uint32_t HexValue(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) v = v * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'A' + 10);
  return v;
}

constexpr size_t kSegmentChars = 24;
constexpr size_t kContentHashChars = 64;

template <typename T>
T LoadHostOrder(std::string_view bytes, size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);  // PostgreSQL writes WAL in host order
  return v;
}

}  // namespace

std::optional<WalFile> WalFile::Parse(std::string_view name) {
  WalFile f;
  f.name = std::string(name);
  if (name.size() == 16 && name.ends_with(".history") && IsUpperHex(name.substr(0, 8))) {
    f.kind = WalFileKind::kTimelineHistory;
  } else if (name.size() >= kSegmentChars && IsUpperHex(name.substr(0, kSegmentChars))) {
    std::string_view rest = name.substr(kSegmentChars);
    if (rest.empty()) {
      f.kind = WalFileKind::kSegment;
    } else if (rest == ".partial") {
      f.kind = WalFileKind::kPartial;
    } else if (rest.size() == 16 && rest[0] == '.' && IsUpperHex(rest.substr(1, 8)) && rest.substr(9) == ".backup") {
      f.kind = WalFileKind::kBackupHistory;
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  f.timeline = HexValue(name.substr(0, 8));
  if (f.timeline == 0) return std::nullopt;  // timelines start at 1
  return f;
}

std::string WalFile::ObjectDir() const {
  if (kind == WalFileKind::kTimelineHistory) return std::string(kWalPrefix) + "history/";
  return std::string(kWalPrefix) + name.substr(0, 16) + "/";
}

std::optional<WalObject> ParseWalObjectName(std::string_view object_name) {
  if (!object_name.starts_with(kWalPrefix)) return std::nullopt;
  size_t slash = object_name.rfind('/');
  size_t dash = object_name.rfind('-');
  if (dash == std::string_view::npos || dash < slash) return std::nullopt;
  auto file = WalFile::Parse(object_name.substr(slash + 1, dash - slash - 1));
  std::string_view hash = object_name.substr(dash + 1);
  if (!file || hash.size() != kContentHashChars || !IsLowerHex(hash)) return std::nullopt;
  if (object_name != file->ObjectName(std::string(hash))) return std::nullopt;  // filed in the wrong place
  return WalObject{std::move(*file), std::string(hash)};
}

std::optional<WalPageIdentity> ReadPageIdentity(std::string_view segment) {
  // XLogLongPageHeaderData (PostgreSQL 9.x to 17): xlp_magic u16, xlp_info u16, xlp_tli u32,
  // xlp_pageaddr u64, xlp_rem_len u32, padding to 24, xlp_sysid u64, xlp_seg_size u32,
  // xlp_xlog_blcksz u32.
  constexpr uint16_t kLongHeader = 0x0002;
  if (segment.size() < 40) return std::nullopt;
  if ((LoadHostOrder<uint16_t>(segment, 2) & kLongHeader) == 0) return std::nullopt;
  WalPageIdentity id;
  id.timeline = LoadHostOrder<uint32_t>(segment, 4);
  id.system_identifier = LoadHostOrder<uint64_t>(segment, 24);
  id.segment_size = LoadHostOrder<uint32_t>(segment, 32);
  return id;
}

std::string SegmentFileName(uint32_t timeline, uint64_t segno, uint32_t segment_size) {
  const uint64_t per_log = 0x100000000ull / segment_size;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X%08X%08X", timeline, static_cast<unsigned>(segno / per_log),
                static_cast<unsigned>(segno % per_log));
  return buf;
}

}  // namespace dhanbak::wal
