#include "command/transfer_width.hpp"

#include <algorithm>
#include <string>

#include "common/log.hpp"

namespace dhanbak::command {
namespace {

// The repository this run uses: --repo when given, else the configuration's.
bool IsLocal(Context& ctx) { return ctx.repository_url().starts_with("file://"); }

}  // namespace

// Measured at scale 1.0 on 2 cores, jobs=2 (docs/decisions.md "Memory"): a local backup with 2
// threads instead of 4 takes the same time; a local restore with 2 threads and a window of 2
// instead of 4 and 4 takes the same time and peaks at 65 MiB instead of 87. At 4x, a window of 1
// instead of 2 takes the same time (a local chunk is decoded in a few ms, loaded in tens) and
// peaks 20 MiB lower ("The restore's memory at 4x").
size_t BackupUploadThreads(Context& ctx, int jobs) {
  const bool local = IsLocal(ctx);
  const size_t threads = local ? static_cast<size_t>(std::max(2, jobs))
                               : static_cast<size_t>(std::max({2, jobs, ctx.config().b2.connections}));
  log::Debug(std::string(local ? "local" : "B2") + " repository: " + std::to_string(threads) +
             " chunks compressed and stored at a time");
  return threads;
}

// Locally one chunk queued beyond those being compressed is enough to keep every thread busy; each
// further one is one more chunk-sized buffer resident for the whole run (stream/buffer_pool.hpp).
// B2 keeps two per connection, so that a connection never waits for a chunk between two uploads.
size_t BackupChunksInFlight(Context& ctx, size_t threads) {
  return IsLocal(ctx) ? threads + 1 : threads * 2;
}

RestoreFetchWidth RestoreTransferWidth(Context& ctx, int jobs) {
  const bool local = IsLocal(ctx);
  const RestoreFetchWidth width =
      local ? RestoreFetchWidth{static_cast<size_t>(std::max(2, jobs)), 1}
            : RestoreFetchWidth{static_cast<size_t>(std::max({2, jobs * 2, ctx.config().b2.connections})), 4};
  log::Debug(std::string(local ? "local" : "B2") + " repository: " + std::to_string(width.threads) +
             " chunks fetched at a time, up to " + std::to_string(width.window) + " read ahead per table");
  return width;
}

}  // namespace dhanbak::command
