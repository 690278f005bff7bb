// How `list` and `status` show the WAL archive: the range archived per timeline, its gaps, and
// the age of the newest archived segment (the real RPO).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "common/time_spec.hpp"
#include "wal/archive_summary.hpp"

namespace dhanbak::command {

// null for an empty archive; else {timelines: [{timeline, first, last, segments, gaps: [{after,
// before, missing}]}], history_files, newest_segment, newest_archived_at, newest_age_seconds,
// objects, bytes}.
nlohmann::json WalSummaryJson(const wal::ArchiveSummary& summary, UnixMicros now);

// Lines for a terminal; none for an empty archive.
std::vector<std::string> WalSummaryLines(const wal::ArchiveSummary& summary, UnixMicros now);

// The archive's summary from one listing (no passphrase), with the storage's retries bounded to
// 30 s so that `list` and an hourly `status` answer during an outage; an empty summary, with a
// warning, when it cannot be listed.
wal::ArchiveSummary QuickWalSummary(Context& ctx);

// The span a point-in-time restore reaches (design §4): from the end of the oldest good base
// backup that no gap of the archive follows, to when the newest segment was archived.
struct RestorableWindow {
  bool any = false;
  UnixMicros from = 0, to = 0;
  std::string base_backup_id;  // the one `from` comes from
  std::string why_none;        // when !any: what is missing
};
RestorableWindow FindRestorableWindow(const std::vector<catalog::BaseBackupRecord>& bases,
                                      const wal::ArchiveSummary& summary);
// "point in time: any second from ... to ... (...)" or why there is none.
std::string RestorableWindowLine(const RestorableWindow& window);
nlohmann::json RestorableWindowJson(const RestorableWindow& window);

// Seconds since the newest segment was archived; -1 when unknown.
int64_t NewestWalAgeSeconds(const wal::ArchiveSummary& summary, UnixMicros now);

}  // namespace dhanbak::command
