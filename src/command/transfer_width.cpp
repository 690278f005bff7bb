#include "command/transfer_width.hpp"

#include <algorithm>

namespace dhanbak::command {
namespace {

bool IsLocal(const Config& config) { return config.repository_url.starts_with("file://"); }

}  // namespace

// Measured at scale 1.0 on 2 cores, jobs=2 (docs/decisions.md "Memory"): a local backup with 2
// threads instead of 4 takes the same time; a local restore with 2 threads and a window of 2
// instead of 4 and 4 takes the same time and peaks at 65 MiB instead of 87.
TransferWidth BackupTransferWidth(const Config& config, int jobs) {
  if (IsLocal(config)) return {static_cast<size_t>(std::max(2, jobs)), 0};
  return {static_cast<size_t>(std::max({2, jobs, config.b2.connections})), 0};
}

TransferWidth RestoreTransferWidth(const Config& config, int jobs) {
  if (IsLocal(config)) return {static_cast<size_t>(std::max(2, jobs)), 2};
  return {static_cast<size_t>(std::max({2, jobs * 2, config.b2.connections})), 4};
}

}  // namespace dhanbak::command
