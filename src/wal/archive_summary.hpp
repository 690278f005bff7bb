// ArchiveSummary — what the WAL archive covers, from object names alone (no passphrase): per
// timeline the first and last archived segment, the segments missing in between, and when the
// newest one arrived (the real RPO). Used by `list`, `status` and `check`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dhanbak/storage/storage.hpp"

namespace dhanbak::wal {

struct WalGap {
  std::string after;   // the last segment before the gap
  std::string before;  // the first segment after it
  uint64_t missing = 0;
  uint64_t given_up = 0;  // of them, given up by wal-push under [pitr] max_wal_backlog
};

struct TimelineRange {
  uint32_t timeline = 0;
  std::string first;
  std::string last;
  uint64_t segments = 0;
  std::vector<WalGap> gaps;
};

struct ArchiveSummary {
  std::vector<TimelineRange> timelines;   // in timeline order
  std::vector<std::string> history_files; // timeline history files archived
  std::vector<std::string> given_up;      // files wal-push gave up under [pitr] max_wal_backlog
  std::vector<std::string> ambiguous;     // files stored with more than one content (split brain)
  std::vector<std::string> object_names;  // every WAL object (for reading them all)
  std::string newest_segment;             // the segment archived last (by storage time)
  int64_t newest_archived_unix = 0;       // when it was stored; 0 when unknown or no segment
  uint64_t objects = 0;
  uint64_t bytes = 0;
  bool empty() const { return objects == 0; }
};

// Segments per log (a `wal/<timeline><log>/` directory) for a segment size: 256 for 16 MiB.
uint64_t SegmentsPerLog(uint32_t segment_size);

// Lists `wal/` once. `segment_size` 0 infers the segments per log from the names (16 MiB unless
// a complete earlier log shows otherwise), enough for `list` and `status`; `check` passes the
// size the archive recorded.
ArchiveSummary SummarizeArchive(storage::Storage& storage, uint32_t segment_size = 0);

}  // namespace dhanbak::wal
