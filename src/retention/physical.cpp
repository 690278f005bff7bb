#include "retention/physical.hpp"

#include <algorithm>

namespace dhanbak::retention {

PhysicalRetention PlanPhysicalRetention(const std::vector<BaseBackupRef>& bases, std::chrono::seconds keep_within) {
  PhysicalRetention plan;
  if (bases.empty()) return plan;
  std::vector<BaseBackupRef> sorted = bases;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.stopped_at > b.stopped_at; });
  const int64_t window_start =
      sorted.front().stopped_at - std::chrono::duration_cast<std::chrono::microseconds>(keep_within).count();
  // Newest first: keep until (and including) the first that reaches the window's start.
  size_t keep = sorted.size();
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].stopped_at <= window_start) {
      keep = i + 1;
      break;
    }
  }
  uint64_t cutoff = UINT64_MAX;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i < keep) {
      cutoff = std::min(cutoff, sorted[i].start_segno);
    } else {
      plan.expired.insert(sorted[i].backup_id);
    }
  }
  plan.wal_cutoff_segno = cutoff;
  return plan;
}

std::optional<uint64_t> WalFileSegno(const std::string& name, uint32_t segment_size) {
  if (name.size() < 24 || segment_size == 0) return std::nullopt;
  for (size_t i = 0; i < 24; ++i) {
    char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return std::nullopt;
  }
  if (name.size() > 24 && name[24] != '.') return std::nullopt;
  const uint64_t per_log = (uint64_t{1} << 32) / segment_size;
  return std::stoull(name.substr(8, 8), nullptr, 16) * per_log + std::stoull(name.substr(16, 8), nullptr, 16);
}

}  // namespace dhanbak::retention
