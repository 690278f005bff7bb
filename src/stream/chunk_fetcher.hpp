// ChunkFetcher — the restore side's download-ahead stage. For one stream, up to `window`
// chunks are downloaded, authenticated, decrypted and decompressed on the pool while the
// caller consumes earlier ones in order (streams read at the same time share the pool's
// threads: each reads ahead its share of them, at least one chunk); the stream's SHA-256 and
// length are checked against the manifest at the end, so a missing, swapped or altered chunk is
// always detected.
//
// Chunks are decoded into pooled buffers (stream/buffer_pool.hpp) that go back to the pool once
// the caller has consumed them: a restore touches thousands of chunks of up to 8 MiB, and a block
// allocated and freed per chunk leaves glibc's heap holding the high-water of its holes.
#pragma once

#include <atomic>
#include <functional>
#include <string_view>

#include "common/thread_pool.hpp"
#include "stream/buffer_pool.hpp"
#include "dhanbak/format/manifest.hpp"
#include "format/repository.hpp"

namespace dhanbak::stream {

// Downloads, authenticates and opens one chunk (Repository::ReadChunk: when the newest version
// is foreign or the name hidden, the version dhanbak wrote). A missing object or one with no
// version that authenticates throws Error(kCorruption) naming the object, after reporting the
// chunk to Repository::ReportDamagedChunk (so that the next backup stores it again).
// `base`: the chunk's base when the manifest lists it as a delta, else "". `into`: a buffer whose
// capacity the plaintext reuses.
std::string FetchChunk(const format::Repository& repo, const std::string& id, const std::string& base = "",
                       std::string into = {});

class ChunkFetcher {
 public:
  ChunkFetcher(const format::Repository& repo, size_t threads, size_t window);

  // Calls `fn` with each chunk's plaintext in order. Throws Error(kCorruption) naming the
  // object on any integrity failure (including a whole-stream hash mismatch, which is detected
  // only after the last chunk: callers must not commit what they loaded before that).
  void Stream(const format::StreamRef& ref, const std::string& what,
              const std::function<void(std::string_view)>& fn);
  // Stream() into a new file at `path` (the schema archive, the globals script): pg_restore and
  // psql need a file. Throws Error(kIo) when it cannot be written completely.
  void StreamToFile(const format::StreamRef& ref, const std::string& what, const std::string& path);

 private:
  size_t ReadAhead() const;

  const format::Repository& repo_;
  size_t window_;
  size_t threads_;
  std::atomic<size_t> streams_{0};  // Stream() calls under way
  BufferPool buffers_;
  ThreadPool pool_;
};

}  // namespace dhanbak::stream
