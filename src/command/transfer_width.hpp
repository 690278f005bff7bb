// How many chunks a backup or restore moves at once. A local repository is bound by CPU (zstd,
// AES, SHA-256): one thread per COPY job keeps the cores busy, and every further chunk in flight
// is only memory. B2 is bound by round trips: `[b2] connections` transfers at a time, each with a
// chunk of its own, and a deeper read-ahead per stream.
#pragma once

#include <cstddef>

#include "dhanbak/config.hpp"

namespace dhanbak::command {

struct TransferWidth {
  size_t threads;  // compressing/uploading or downloading/decompressing threads
  size_t window;   // restore: chunks read ahead of the one being loaded, per table stream
};

TransferWidth BackupTransferWidth(const Config& config, int jobs);
TransferWidth RestoreTransferWidth(const Config& config, int jobs);

}  // namespace dhanbak::command
