#include "stream/chunk_fetcher.hpp"

#include <algorithm>
#include <deque>
#include <fstream>
#include <future>

#include "common/interrupt.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"

namespace dhanbak::stream {

std::string FetchChunk(const format::Repository& repo, const std::string& id, const std::string& base,
                       std::string into) {
  const std::string name = format::Repository::ChunkName(id, base);
  try {
    return repo.ReadChunk(id, base, std::move(into));  // falls back to the version dhanbak wrote (repository.hpp)
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) {
      Error missing(ErrorCode::kCorruption, "object '" + name + "' is missing from the repository");
      repo.ReportDamagedChunk(id, missing.what());
      throw missing;
    }
    if (e.code() == ErrorCode::kCorruption) {
      std::string what = e.what();
      if (what.find(name) == std::string::npos) what = "object '" + name + "' is corrupted: " + what;
      repo.ReportDamagedChunk(id, what);
      throw Error(ErrorCode::kCorruption, what);
    }
    throw;
  }
}

// The pool holds at most what is in use at once: the chunks read ahead (no more than there are
// threads, ReadAhead) and the one each stream is consuming (streams: no more than threads).
namespace {
BufferPool ChunkBuffers(size_t threads, const ChunkerParams& chunks) {
  return BufferPool(2 * threads, chunks.max_size, chunks.typical_size());
}
}  // namespace

ChunkFetcher::ChunkFetcher(const format::Repository& repo, size_t threads, size_t window)
    : repo_(repo),
      window_(window == 0 ? 1 : window),
      threads_(threads == 0 ? 1 : threads),
      buffers_(ChunkBuffers(threads_, repo.chunker_params())),
      pool_(threads) {}

// Per table, up to `window` chunks ahead, and no more in all than there are download threads:
// chunks beyond that would only wait, decoded, in memory.
size_t ChunkFetcher::ReadAhead() const {
  return std::min(window_, std::max<size_t>(1, threads_ / std::max<size_t>(1, streams_.load())));
}

void ChunkFetcher::Stream(const format::StreamRef& ref, const std::string& what,
                          const std::function<void(std::string_view)>& fn) {
  streams_.fetch_add(1);
  struct Leave {
    std::atomic<size_t>& streams;
    ~Leave() { streams.fetch_sub(1); }
  } leave{streams_};
  std::deque<std::future<std::string>> pending;
  size_t next = 0;
  auto fill = [&] {
    while (next < ref.chunks.size() && pending.size() < ReadAhead()) {
      std::string id = ref.chunks[next], base = ref.BaseOf(next);
      ++next;
      pending.push_back(pool_.Submit([this, id, base] {
        ThrowIfInterrupted();
        return FetchChunk(repo_, id, base, buffers_.Take());
      }));
    }
  };
  crypto::Digest digest;
  int64_t bytes = 0;
  try {
    fill();
    while (!pending.empty()) {
      // Pop first: get() consumes the future's state, and the cleanup below waits on the rest.
      std::future<std::string> next_chunk = std::move(pending.front());
      pending.pop_front();
      std::string plaintext = next_chunk.get();
      fill();
      digest.Update(plaintext);
      bytes += static_cast<int64_t>(plaintext.size());
      fn(plaintext);
      buffers_.Give(std::move(plaintext));
    }
  } catch (...) {
    // Wait for downloads already started: their tasks reference this frame's futures only
    // through `pending`, but they use repo_, which must outlive them.
    for (auto& f : pending)
      if (f.valid()) f.wait();
    throw;
  }
  if (bytes != ref.bytes || digest.FinishHex() != ref.sha256) {
    throw Error(ErrorCode::kCorruption, what + ": restored stream does not match the manifest's SHA-256");
  }
}

void ChunkFetcher::StreamToFile(const format::StreamRef& ref, const std::string& what, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + path + "'");
  Stream(ref, what, [&](std::string_view d) { out.write(d.data(), static_cast<std::streamsize>(d.size())); });
  out.close();
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + path + "' (is the disk full?)");
}

}  // namespace dhanbak::stream
