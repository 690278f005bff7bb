// Retention of the WAL archive and base backups (design §4 "Retention"), a pure function: every
// point in time within `keep_within` of the newest base backup stays reachable. That needs the
// newest base backup that ended at or before the window's start (else the oldest one) and every
// later one, and the WAL from the oldest of them on; everything older goes. Anchored on the newest
// base backup, not on today, so an archive whose base backups silently stopped never expires.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dhanbak::retention {

struct BaseBackupRef {
  std::string backup_id;
  int64_t stopped_at = 0;    // UnixMicros: the earliest point it reaches
  uint64_t start_segno = 0;  // its first WAL segment (LSN / segment size)
};

struct PhysicalRetention {
  std::set<std::string> expired;  // base backups to delete
  // WAL segments numbered below this are not needed by any kept base backup; 0 = keep all WAL
  // (no base backup at all: nothing tells what the WAL is needed for).
  uint64_t wal_cutoff_segno = 0;
};

PhysicalRetention PlanPhysicalRetention(const std::vector<BaseBackupRef>& bases, std::chrono::seconds keep_within);

// The segment number a WAL file name refers to (segment, partial segment, backup history file);
// nullopt for timeline history files and anything else.
std::optional<uint64_t> WalFileSegno(const std::string& file_name, uint32_t segment_size);

}  // namespace dhanbak::retention
