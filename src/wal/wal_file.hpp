// WalFile — the files PostgreSQL hands to archive_command / asks of restore_command, and the
// repository object names they are stored under (docs/repository-format.md §7).
//
//   000000010000000A000000FE                  a segment (timeline, log, segment: 24 hex digits)
//   000000010000000A000000FE.partial          the last, partial segment of a timeline (promotion)
//   000000010000000A000000FE.00000028.backup  a backup history file (pg_backup_stop)
//   00000002.history                          a timeline history file
//
// Object names sort by timeline and position, and carry the keyed hash of the file's content, so
// whether a file is already archived with the same content is answered by one listing, without
// downloading anything:
//   wal/<timeline><log>/<file>-<hash>    segments, partial segments, backup history files
//   wal/history/<file>-<hash>            timeline history files
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dhanbak::wal {

enum class WalFileKind { kSegment, kPartial, kBackupHistory, kTimelineHistory };

struct WalFile {
  std::string name;  // as PostgreSQL names it, e.g. "000000010000000A000000FE"
  WalFileKind kind = WalFileKind::kSegment;
  uint32_t timeline = 0;

  // nullopt when `name` is not one of the forms above (a path, a temporary file, a typo).
  static std::optional<WalFile> Parse(std::string_view name);

  // "wal/0000000100000000/" or "wal/history/": where objects of this file live.
  std::string ObjectDir() const;
  // Prefix of every object holding this file, whatever its content: ObjectDir() + name + "-".
  std::string ObjectPrefix() const { return ObjectDir() + name + "-"; }
  std::string ObjectName(const std::string& content_hash) const { return ObjectPrefix() + content_hash; }
  // Segments and partial segments begin with a WAL page header; history files are text.
  bool HasPageHeader() const { return kind == WalFileKind::kSegment || kind == WalFileKind::kPartial; }
};

// The name of segment number `segno` (LSN / segment size) on `timeline`, as XLogFileName.
std::string SegmentFileName(uint32_t timeline, uint64_t segno, uint32_t segment_size);

inline constexpr char kWalPrefix[] = "wal/";
// wal/skipped/<file>: wal-push gave <file> up under [pitr] max_wal_backlog (it is not archived).
inline constexpr char kGivenUpPrefix[] = "wal/skipped/";

// The file and content hash of a WAL object name; nullopt for any other name.
struct WalObject {
  WalFile file;
  std::string content_hash;
};
std::optional<WalObject> ParseWalObjectName(std::string_view object_name);

// What the first page of a segment says about the cluster that wrote it
// (XLogLongPageHeaderData); nullopt when `segment` does not start with a long page header.
struct WalPageIdentity {
  uint64_t system_identifier = 0;
  uint32_t segment_size = 0;
  uint32_t timeline = 0;
};
std::optional<WalPageIdentity> ReadPageIdentity(std::string_view segment);

}  // namespace dhanbak::wal
