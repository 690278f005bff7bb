#include "command/wal_fetch.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "common/detached_worker.hpp"
#include "common/file_io.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/thread_pool.hpp"
#include "dhanbak/error.hpp"
#include "wal/fetch_spool.hpp"
#include "wal/wal_archive.hpp"

namespace dhanbak::command {
namespace {

using Clock = std::chrono::steady_clock;

// Set only where the archive was seen not to hold the file.
bool g_found_nothing = false;

int FoundNothing() {
  g_found_nothing = true;
  return kWalFetchMissingExitCode;
}
using wal::FetchSpool;
using wal::WalArchive;
using wal::WalFile;

// The prefetch worker exits when PostgreSQL asked for nothing new for this long (recovery ended,
// paused at its target, or waits for WAL that is not archived yet).
constexpr auto kPrefetchLinger = std::chrono::seconds(10);
// A call waits this long at most for a file the worker is downloading before fetching it itself.
constexpr auto kPlannedFileWait = std::chrono::seconds(120);

// Keeps the `fetch_ahead` archived segments after the one PostgreSQL asked for last in the spool,
// `[b2] connections` downloads at a time.
int RunPrefetchWorker(Context& ctx, const FetchSpool& spool) {
  const Config& config = ctx.config();
  WalArchive archive(ctx.repository());
  ThreadPool pool(static_cast<size_t>(std::max(1, config.b2.connections)));
  std::string last_wanted;
  auto last_change = Clock::now();
  bool look = true;  // whether the archive may hold something new for us
  while (!Interrupted()) {
    const std::string wanted = spool.Wanted();
    if (wanted != last_wanted) {
      last_wanted = wanted;
      last_change = Clock::now();
      look = true;
    } else if (Clock::now() - last_change > kPrefetchLinger) {
      break;
    }
    auto file = WalFile::Parse(wanted);
    if (!look || !file) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    look = false;
    std::set<std::string> keep = {wanted};
    std::vector<WalFile> todo;
    for (WalFile& next : archive.ArchivedAfter(*file, static_cast<size_t>(config.pitr.fetch_ahead))) {
      keep.insert(next.name);
      if (!spool.Has(next.name)) todo.push_back(std::move(next));
    }
    spool.Trim(keep);
    if (todo.empty()) continue;
    std::vector<std::string> plan;
    for (const WalFile& f : todo) plan.push_back(f.name);
    spool.SetPlan(plan);
    std::vector<std::future<void>> done;
    for (const WalFile& f : todo) {
      done.push_back(pool.Submit([&, f] {
        try {
          if (auto content = archive.Fetch(f)) spool.Put(f.name, *content);
        } catch (const std::exception& e) {
          // The call that asks for this file fetches it itself and reports the error.
          log::Warning("prefetching WAL file " + f.name + ": " + e.what());
        }
      }));
    }
    for (auto& d : done) d.get();
    spool.SetPlan({});
    look = true;  // PostgreSQL may have moved on meanwhile
  }
  return 0;
}

// The file from the spool: already there, or being downloaded by the worker (then wait for it).
bool TakeFromSpool(Context& ctx, const FetchSpool& spool, const WalFile& file, const std::string& path) {
  spool.SetWanted(file.name);
  if (spool.Take(file.name, path)) return true;
  StartDetachedWorker(spool.lock_path(), spool.log_path(), [&] { return RunPrefetchWorker(ctx, spool); });
  const auto deadline = Clock::now() + kPlannedFileWait;
  while (spool.Plan().count(file.name) != 0 && DetachedWorkerPid(spool.lock_path()) != 0 && Clock::now() < deadline) {
    ThrowIfInterrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (spool.Take(file.name, path)) return true;
  }
  return spool.Take(file.name, path);
}

}  // namespace

int RunWalFetch(Context& ctx, const std::string& name, const std::string& path) {
  auto file = WalFile::Parse(name);
  if (!file) {
    // Not a name wal-push ever stores, so it is certainly not in the archive.
    log::Warning("wal-fetch: '" + name + "' is not the name of a WAL file; it is not in the archive");
    return FoundNothing();
  }
  const Config& config = ctx.config();
  if (config.pitr.fetch_ahead > 0 && file->kind == wal::WalFileKind::kSegment) {
    FetchSpool spool(config.pitr.spool_dir, ctx.repository_url());
    try {
      spool.Prepare();
      if (TakeFromSpool(ctx, spool, *file, path)) {
        log::Debug("WAL file " + name + " restored to " + path + " (prefetched)");
        return 0;
      }
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInterrupted) throw;
      log::Warning(std::string(e.what()) + "; fetching " + name + " without the spool");
    }
  }
  WalArchive archive(ctx.repository());
  auto content = archive.Fetch(*file);
  if (!content) {
    log::Info("WAL file " + name + " is not in the archive");
    return FoundNothing();
  }
  WriteFileAtomically(path, *content, 0600, false);
  log::Debug("WAL file " + name + " restored to " + path);
  return 0;
}

int WalFetchExitCode(int code) {
  if (code == 0) return 0;
  return code == kWalFetchMissingExitCode && g_found_nothing ? code : kWalFetchAbortExitCode;
}

}  // namespace dhanbak::command
