// How many chunks a backup or restore moves at once. A local repository is bound by CPU (zstd,
// AES, SHA-256): one thread per COPY job keeps the cores busy, and every further chunk in flight
// is only memory. B2 is bound by round trips: `[b2] connections` transfers at a time, each with a
// chunk of its own, and a deeper read-ahead per stream.
#pragma once

#include <cstddef>

#include "command/context.hpp"

namespace dhanbak::command {

// Compressing and uploading threads of a backup.
size_t BackupUploadThreads(Context& ctx, int jobs);
// Chunks a backup has queued or uploading at most, with `threads` upload threads.
size_t BackupChunksInFlight(Context& ctx, size_t threads);

struct RestoreFetchWidth {
  size_t threads;  // downloading/decompressing threads
  size_t window;   // chunks read ahead of the one being loaded, per table stream
};
RestoreFetchWidth RestoreTransferWidth(Context& ctx, int jobs);

}  // namespace dhanbak::command
