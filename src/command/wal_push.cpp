#include "command/wal_push.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
#include "wal/archive_spool.hpp"
#include "wal/wal_archive.hpp"

namespace dhanbak::command {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using wal::ArchiveSpool;
using wal::WalArchive;
using wal::WalFile;

// A worker keeps looking for new `.ready` files this long after its last push before it exits,
// so that a steady stream of segments is served by one worker (one repository unlock).
constexpr auto kWorkerLinger = std::chrono::seconds(5);
// Files in flight at once are bounded in bytes too: pg_wal may hold 1 GiB segments.
constexpr uint64_t kMaxBytesInFlight = 256ull << 20;

WalFile ParseArchivedPath(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  auto file = WalFile::Parse(name);
  if (!file) {
    throw Error(ErrorCode::kInvalidArgument,
                "wal-push: '" + name +
                    "' is not the name of a WAL segment, timeline history, backup history or partial segment; "
                    "archive_command must be 'dhanbak -c FILE wal-push %p'");
  }
  return *file;
}

std::string DescribeOutcome(WalArchive::PushOutcome outcome) {
  return outcome == WalArchive::PushOutcome::kStored ? "archived" : "was already archived with the same content";
}

// Pushes `file` from `path` and says so.
void PushOne(WalArchive& archive, const WalFile& file, const std::string& content) {
  auto started = Clock::now();
  auto outcome = archive.Push(file, content);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  log::Info("WAL file " + file.name + " " + DescribeOutcome(outcome) + " (" + log::FormatBytes(static_cast<double>(content.size())) +
            ", " + std::to_string(ms) + " ms)");
}

// The `.ready` files of pg_wal, history files first (PostgreSQL's own order), then by name.
std::vector<WalFile> ReadyFiles(const std::string& pg_wal) {
  std::vector<WalFile> ready;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pg_wal + "/archive_status", ec)) {
    std::string name = entry.path().filename().string();
    if (!name.ends_with(".ready")) continue;
    if (auto file = WalFile::Parse(name.substr(0, name.size() - 6))) ready.push_back(std::move(*file));
  }
  if (ec) throw Error(ErrorCode::kIo, "cannot list " + pg_wal + "/archive_status: " + ec.message());
  std::sort(ready.begin(), ready.end(), [](const WalFile& a, const WalFile& b) {
    bool ah = a.kind == wal::WalFileKind::kTimelineHistory, bh = b.kind == wal::WalFileKind::kTimelineHistory;
    return ah != bh ? ah : a.name < b.name;
  });
  return ready;
}

// The worker: pushes every ready file that has no acknowledgement yet, `connections` at a time,
// until nothing new turned up for kWorkerLinger or a push failed (the failure is left in the spool
// for the call that waits on that file; PostgreSQL's retry starts a new worker).
int RunPushWorker(Context& ctx, const ArchiveSpool& spool, const std::string& pg_wal) {
  WalArchive archive(ctx.repository());
  const size_t connections = static_cast<size_t>(std::max(1, ctx.config().b2.connections));
  ThreadPool pool(connections);
  auto last_work = Clock::now();
  while (!Interrupted()) {
    // Files given up under max_wal_backlog become markers in the repository, for status and check.
    for (const std::string& name : spool.TakeGivenUp()) {
      try {
        archive.RecordGivenUp(name);
      } catch (const std::exception& e) {
        spool.RecordGivenUp(name);
        throw;
      }
    }
    auto ready = ReadyFiles(pg_wal);
    std::set<std::string> ready_names;
    for (const WalFile& f : ready) ready_names.insert(f.name);
    spool.RemoveSettled(ready_names);

    std::vector<WalFile> batch;
    uint64_t bytes = 0;
    for (const WalFile& f : ready) {
      if (spool.HasAck(f.name)) continue;
      std::error_code ec;
      uint64_t size = fs::file_size(pg_wal + "/" + f.name, ec);
      if (!batch.empty() && (batch.size() >= connections * 2 || bytes + size > kMaxBytesInFlight)) break;
      batch.push_back(f);
      bytes += ec ? 0 : size;
    }
    if (batch.empty()) {
      if (Clock::now() - last_work > kWorkerLinger) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::vector<std::future<bool>> results;
    for (const WalFile& f : batch) {
      results.push_back(pool.Submit([&, f] {
        try {
          std::string content = ReadFileBytes(pg_wal + "/" + f.name);
          PushOne(archive, f, content);
          spool.WriteAck(f.name, content);
          return true;
        } catch (const std::exception& e) {
          log::Error("WAL file " + f.name + " was not archived: " + e.what());
          try {
            const auto* error = dynamic_cast<const Error*>(&e);
            spool.WriteError(f.name, error ? error->code() : ErrorCode::kInternal, e.what());
          } catch (const std::exception&) {
            // The waiting call times out instead; PostgreSQL calls again.
          }
          return false;
        }
      }));
    }
    bool all_ok = true;
    for (auto& r : results) all_ok = r.get() && all_ok;
    if (!all_ok) return 1;
    last_work = Clock::now();
  }
  return 0;
}

int PushSynchronously(Context& ctx, const WalFile& file, const std::string& path) {
  std::string content = ReadFileBytes(path);
  WalArchive archive(ctx.repository());
  PushOne(archive, file, content);
  return 0;
}

// Pushes `file` (through the worker unless [pitr] archive_async is off); throws when it is not
// stored.
int PushOrWait(Context& ctx, const WalFile& file, const std::string& path) {
  const Config& config = ctx.config();
  if (!config.pitr.archive_async) return PushSynchronously(ctx, file, path);

  ArchiveSpool spool(config.pitr.spool_dir, ctx.repository_url());
  try {
    spool.Prepare();
  } catch (const Error& e) {
    log::Warning(std::string(e.what()) + "; pushing " + file.name + " without the worker");
    return PushSynchronously(ctx, file, path);
  }
  const std::string pg_wal = fs::absolute(fs::path(path)).parent_path().string();
  // The worker pushes what PostgreSQL marked ready; anything else (a file pushed by hand, a
  // server without archive_status) is pushed here and now.
  if (!fs::exists(pg_wal + "/archive_status/" + file.name + ".ready")) return PushSynchronously(ctx, file, path);
  const std::string content = ReadFileBytes(path);
  const auto deadline = Clock::now() + config.pitr.push_timeout;
  auto pause = std::chrono::milliseconds(5);
  bool started_worker = false;
  for (;;) {
    if (spool.AckMatches(file.name, content)) {
      log::Debug("WAL file " + file.name + " archived by the wal-push worker");
      return 0;
    }
    if (auto failure = spool.ConsumeError(file.name)) {
      throw Error(failure->first, "WAL file " + file.name + " was not archived: " + failure->second);
    }
    // The worker outlives this call and PostgreSQL's archiver does not wait for it. A worker this
    // call started that ended without a word about the file failed before it got to it (the
    // repository cannot be opened): say why instead of starting workers until the timeout.
    if (StartDetachedWorker(spool.lock_path(), spool.log_path(), [&] { return RunPushWorker(ctx, spool, pg_wal); })) {
      if (started_worker && !spool.HasAck(file.name)) {
        throw Error(ErrorCode::kIo, "WAL file " + file.name + " was not archived: the wal-push worker stopped: " +
                                        spool.LastLogLine() + " (log: " + spool.log_path() + ")");
      }
      started_worker = true;
    }
    ThrowIfInterrupted();
    if (Clock::now() > deadline) {
      throw Error(ErrorCode::kNetwork,
                  "WAL file " + file.name + " was not archived within [pitr] push_timeout (" +
                      std::to_string(config.pitr.push_timeout.count()) +
                      " s): the wal-push worker is still trying (its log: " + spool.log_path() +
                      "); PostgreSQL will call again");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

// Bytes of the segments waiting for the archiver in `pg_wal`.
uint64_t ReadyBytes(const std::string& pg_wal) {
  uint64_t bytes = 0;
  for (const WalFile& f : ReadyFiles(pg_wal)) {
    std::error_code ec;
    uint64_t size = fs::file_size(pg_wal + "/" + f.name, ec);
    bytes += ec ? 0 : size;
  }
  return bytes;
}

}  // namespace

int RunWalPush(Context& ctx, const std::string& path) {
  const WalFile file = ParseArchivedPath(path);
  try {
    return PushOrWait(ctx, file, path);
  } catch (const Error& e) {
    // [pitr] max_wal_backlog: the operator prefers losing archive continuity to a full pg_wal.
    // Never for split brain or another cluster's WAL (kCorruption): that is not an outage.
    const uint64_t limit = ctx.config().pitr.max_wal_backlog;
    if (limit == 0 || e.code() == ErrorCode::kCorruption || e.code() == ErrorCode::kInterrupted) throw;
    const std::string pg_wal = fs::absolute(fs::path(path)).parent_path().string();
    const uint64_t backlog = ReadyBytes(pg_wal);
    if (backlog <= limit) throw;
    log::Error(std::string(e.what()));
    log::Error("WAL file " + file.name + " is GIVEN UP, not archived: " +
               log::FormatBytes(static_cast<double>(backlog)) +
               " of WAL waits in pg_wal, more than [pitr] max_wal_backlog (" +
               log::FormatBytes(static_cast<double>(limit)) +
               "). The archive now has a gap: no point in time inside it can be restored, and `status` and `check` "
               "alert until a base backup taken after it makes it irrelevant");
    ArchiveSpool(ctx.config().pitr.spool_dir, ctx.repository_url()).RecordGivenUp(file.name);  // never throws
    return 0;
  }
}

}  // namespace dhanbak::command
