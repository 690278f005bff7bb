#include "stream/chunk_fetcher.hpp"

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

// The pool holds at most what was in use at once: per stream, its read-ahead plus the chunk being
// consumed. Callers stream no more tables at a time than there are threads.
//
// Only a shallow read-ahead (a local repository: one chunk) is pooled. Each pooled buffer keeps the
// pages of the largest chunk it ever held, so with B2's four chunks ahead per table the pool's 20
// buffers held more than the arenas did: a verified restore at scale 1 through the emulator peaked
// at 109-115 MiB pooled against 86-92 unpooled (docs/decisions.md). Unpooled, each chunk is
// decoded into a string of exactly its size, still without a staging copy.
namespace {
BufferPool ChunkBuffers(size_t threads, size_t window, size_t max_chunk) {
  if (window > 1) return BufferPool(0, 0);  // nothing kept; each buffer sized by its chunk
  return BufferPool(threads * (window + 1), max_chunk);
}
}  // namespace

ChunkFetcher::ChunkFetcher(const format::Repository& repo, size_t threads, size_t window)
    : repo_(repo),
      window_(window == 0 ? 1 : window),
      buffers_(ChunkBuffers(threads, window_, repo.chunker_params().max_size)),
      pool_(threads) {}

void ChunkFetcher::Stream(const format::StreamRef& ref, const std::string& what,
                          const std::function<void(std::string_view)>& fn) {
  std::deque<std::future<std::string>> pending;
  size_t next = 0;
  auto fill = [&] {
    while (next < ref.chunks.size() && pending.size() < window_) {
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
