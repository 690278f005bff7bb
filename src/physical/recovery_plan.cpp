#include "physical/recovery_plan.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <sstream>

#include "dhanbak/error.hpp"
#include "pg/replication.hpp"
#include "retention/physical.hpp"
#include "wal/wal_archive.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::physical {
namespace {

struct ArchivedSegment {
  int64_t archived_unix = 0;
  int contents = 0;  // distinct objects (more than one: stored with two contents)
};

// Segments of the archive by (timeline, segment number), and the history files' names.
struct ArchiveIndex {
  std::map<std::pair<uint32_t, uint64_t>, ArchivedSegment> segments;
  std::map<uint32_t, std::string> history_files;  // timeline → file name
  std::map<uint32_t, int64_t> history_archived;   // timeline → when its history file was stored
};

ArchiveIndex IndexArchive(storage::Storage& storage, uint32_t segment_size) {
  ArchiveIndex index;
  storage.List(wal::kWalPrefix, [&](const storage::ObjectInfo& info) {
    auto object = wal::ParseWalObjectName(info.name);
    if (!object) return;
    const auto& f = object->file;
    if (f.kind == wal::WalFileKind::kTimelineHistory) {
      index.history_files[f.timeline] = f.name;
      index.history_archived[f.timeline] = info.modified_unix;
      return;
    }
    if (f.kind != wal::WalFileKind::kSegment) return;
    auto& s = index.segments[{f.timeline, *retention::WalFileSegno(f.name, segment_size)}];
    s.archived_unix = std::max(s.archived_unix, info.modified_unix);
    ++s.contents;
  });
  return index;
}

// The timeline path from the base backup's timeline to `target`: (timeline, first LSN on it).
using TimelinePath = std::vector<std::pair<uint32_t, uint64_t>>;

std::string ReadHistory(const format::Repository& repo, const std::string& name) {
  auto file = wal::WalFile::Parse(name);
  auto content = wal::WalArchive(repo).Fetch(*file);
  if (!content) throw Error(ErrorCode::kNotFound, "timeline history file " + name + " vanished from the archive");
  return *content;
}

// The timeline that was live at `at_unix` (0: the newest) among those descending from
// `base_timeline`, with its path: the newest whose history file was archived by then, i.e. whose
// promotion had happened. Reads history files.
TimelinePath ChooseTimeline(const format::Repository& repo, const ArchiveIndex& index, uint32_t base_timeline,
                            uint64_t base_start_lsn, int64_t at_unix) {
  for (auto it = index.history_files.rbegin(); it != index.history_files.rend(); ++it) {
    if (it->first <= base_timeline) break;
    if (at_unix != 0 && index.history_archived.at(it->first) > at_unix) continue;
    auto history = ParseTimelineHistory(ReadHistory(repo, it->second));
    TimelinePath path;
    uint64_t begin = 0;
    bool found = false;
    for (const auto& h : history) {
      if (h.timeline == base_timeline) found = true;
      if (found) path.push_back({h.timeline, begin});
      begin = h.switch_lsn;
    }
    // A branch that left the base backup's timeline before the backup started does not hold it.
    if (!found || history.empty()) continue;
    auto base_entry = std::find_if(history.begin(), history.end(),
                                   [&](const TimelineSwitch& h) { return h.timeline == base_timeline; });
    if (base_entry->switch_lsn < base_start_lsn) continue;
    path.push_back({it->first, begin});
    return path;
  }
  return {{base_timeline, 0}};
}

uint32_t TimelineFor(const TimelinePath& path, uint64_t segno, uint32_t segment_size) {
  uint32_t tli = path.front().first;
  for (const auto& [timeline, begin] : path) {
    if (begin / segment_size <= segno) tli = timeline;
  }
  return tli;
}

}  // namespace

std::vector<TimelineSwitch> ParseTimelineHistory(const std::string& content) {
  std::vector<TimelineSwitch> out;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::istringstream fields(line.substr(start));
    std::string tli, lsn;
    fields >> tli >> lsn;
    try {
      out.push_back({static_cast<uint32_t>(std::stoul(tli)), pg::ParseLsn(lsn)});
    } catch (const std::exception&) {
      throw Error(ErrorCode::kCorruption, "malformed timeline history line '" + line + "'");
    }
  }
  return out;
}

RecoveryPlan PlanClusterRecovery(const format::Repository& repo, const TimeSpec& at) {
  std::vector<format::BaseBackupManifest> bases;
  for (const auto& id : repo.ListBaseBackupIds()) bases.push_back(repo.GetBaseBackup(id));
  if (bases.empty()) {
    throw Error(ErrorCode::kNotFound, "the repository holds no base backup: run 'dhanbak base-backup' (with the WAL "
                                      "archive on) before a cluster can be restored to a point in time");
  }
  std::sort(bases.begin(), bases.end(), [](const auto& a, const auto& b) { return a.stopped_at > b.stopped_at; });
  auto chosen = at.latest ? bases.begin()
                          : std::find_if(bases.begin(), bases.end(), [&](const auto& b) { return b.stopped_at <= at.at; });
  if (chosen == bases.end()) {
    throw Error(ErrorCode::kNotFound, "no base backup ended at or before " + FormatLocalTime(at.at) +
                                          ": the oldest ended at " + FormatLocalTime(bases.back().stopped_at));
  }
  try {
    return PlanRecoveryFrom(repo, *chosen, at);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound || chosen == bases.begin()) throw;
    // Past a gap, times become reachable again from the next base backup on.
    const auto& next = *std::prev(chosen);
    throw Error(e.code(), std::string(e.what()) + "; after the gap, times from " + FormatLocalTime(next.stopped_at) +
                              " (when base backup " + next.backup_id + " ended) are reachable again");
  }
}

RecoveryPlan PlanRecoveryFrom(const format::Repository& repo, const format::BaseBackupManifest& base,
                              const TimeSpec& at) {
  RecoveryPlan plan;
  plan.base = base;
  const uint32_t segment_size = plan.base.segment_size;
  const ArchiveIndex index = IndexArchive(repo.storage(), segment_size);
  const int64_t at_unix = at.latest ? 0 : (at.at + 999999) / 1000000;
  const TimelinePath path =
      ChooseTimeline(repo, index, plan.base.stop_timeline, pg::ParseLsn(plan.base.start_lsn), at_unix);
  plan.target_timeline = path.back().first;

  const uint64_t first = pg::ParseLsn(plan.base.start_lsn) / segment_size;
  const uint64_t stop = std::max(first, (pg::ParseLsn(plan.base.stop_lsn) - 1) / segment_size);
  // The last segment archived on the path: everything up to it must be there.
  uint64_t newest = first;
  for (const auto& [key, seg] : index.segments) {
    if (key.second >= first && TimelineFor(path, key.second, segment_size) == key.first) newest = std::max(newest, key.second);
  }
  plan.first_segment = wal::SegmentFileName(TimelineFor(path, first, segment_size), first, segment_size);
  for (uint64_t segno = first;; ++segno) {
    const uint32_t tli = TimelineFor(path, segno, segment_size);
    const std::string name = wal::SegmentFileName(tli, segno, segment_size);
    auto found = index.segments.find({tli, segno});
    if (found == index.segments.end()) {
      if (segno <= stop || segno < newest) {
        throw Error(ErrorCode::kNotFound,
                    "the WAL archive is missing segment " + name + ", which a restore from base backup " +
                        plan.base.backup_id + " to " + (at.latest ? std::string("the latest point") : FormatLocalTime(at.at)) +
                        " must replay (a gap: 'dhanbak check' lists them). " +
                        (plan.segments > 0 ? "Times up to about " + FormatLocalTime(plan.last_archived_unix * 1000000) +
                                                 " (when " + plan.last_segment + ", the last segment before the gap, "
                                                 "was archived) are reachable"
                                           : std::string("No time after base backup " + plan.base.backup_id +
                                                         " is reachable through it")));
      }
      if (!at.latest) {
        throw Error(ErrorCode::kNotFound,
                    "the WAL archive reaches only to " + plan.last_segment + ", archived at " +
                        FormatLocalTime(plan.last_archived_unix * 1000000) + ": " + FormatLocalTime(at.at) +
                        " may be after the last archived transaction. Use --at latest for everything archived, or an "
                        "earlier time");
      }
      break;
    }
    if (found->second.contents > 1) {
      throw Error(ErrorCode::kCorruption, "WAL segment " + name + " is archived with two different contents (split "
                                          "brain?); a restore through it cannot be trusted");
    }
    plan.last_segment = name;
    plan.last_archived_unix = found->second.archived_unix;
    ++plan.segments;
    // Records up to TIME are all in segments finished by then; the first one archived at or after
    // TIME holds (or precedes) the first transaction after it.
    if (!at.latest && segno >= stop && found->second.archived_unix >= at_unix) break;
  }
  return plan;
}

}  // namespace dhanbak::physical
