#include "wal/archive_summary.hpp"

#include <algorithm>
#include <map>

#include "wal/wal_file.hpp"

namespace dhanbak::wal {
namespace {

uint64_t Hex(const std::string& s) { return std::stoull(s, nullptr, 16); }

struct SegmentPosition {
  uint64_t log = 0;
  uint64_t seg = 0;
};

SegmentPosition PositionOf(const std::string& name) { return {Hex(name.substr(8, 8)), Hex(name.substr(16, 8))}; }

}  // namespace

uint64_t SegmentsPerLog(uint32_t segment_size) {
  return segment_size == 0 ? 256 : (uint64_t{1} << 32) / segment_size;
}

ArchiveSummary SummarizeArchive(storage::Storage& storage, uint32_t segment_size) {
  ArchiveSummary summary;
  std::map<uint32_t, std::vector<std::string>> segments;  // names in order (List is sorted)
  std::string last_file;
  storage.List(kWalPrefix, [&](const storage::ObjectInfo& info) {
    ++summary.objects;
    summary.bytes += info.size;
    if (info.name.starts_with(kGivenUpPrefix)) {
      summary.given_up.push_back(info.name.substr(std::string(kGivenUpPrefix).size()));
      return;
    }
    auto object = ParseWalObjectName(info.name);
    if (!object) return;
    summary.object_names.push_back(info.name);
    if (!last_file.empty() && last_file == object->file.name &&
        (summary.ambiguous.empty() || summary.ambiguous.back() != last_file)) {
      summary.ambiguous.push_back(last_file);  // same file, another hash: names sort together
    }
    last_file = object->file.name;
    if (object->file.kind == WalFileKind::kTimelineHistory) {
      summary.history_files.push_back(object->file.name);
      return;
    }
    if (object->file.kind != WalFileKind::kSegment) return;
    auto& list = segments[object->file.timeline];
    if (list.empty() || list.back() != object->file.name) list.push_back(object->file.name);
    if (info.modified_unix >= summary.newest_archived_unix) {
      summary.newest_archived_unix = info.modified_unix;
      summary.newest_segment = object->file.name;
    }
  });
  for (auto& [timeline, names] : segments) {
    // Without the recorded size: the last segment of a log followed by another tells it (a log
    // is complete once the next one starts), else 16 MiB or what the names show.
    uint64_t per_log = SegmentsPerLog(segment_size);
    if (segment_size == 0) {
      for (const auto& n : names) per_log = std::max(per_log, PositionOf(n).seg + 1);
      for (size_t i = 0; i + 1 < names.size(); ++i) {
        if (PositionOf(names[i + 1]).log > PositionOf(names[i]).log) per_log = PositionOf(names[i]).seg + 1;
      }
    }
    TimelineRange range{timeline, names.front(), names.back(), names.size(), {}};
    for (size_t i = 0; i + 1 < names.size(); ++i) {
      auto a = PositionOf(names[i]), b = PositionOf(names[i + 1]);
      uint64_t distance = (b.log * per_log + b.seg) - (a.log * per_log + a.seg);
      if (distance <= 1) continue;
      uint64_t given_up = 0;
      for (const auto& g : summary.given_up) given_up += (g > names[i] && g < names[i + 1]) ? 1 : 0;
      range.gaps.push_back({names[i], names[i + 1], distance - 1, given_up});
    }
    summary.timelines.push_back(std::move(range));
  }
  return summary;
}

}  // namespace dhanbak::wal
