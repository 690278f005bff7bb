// ChunkUploader — the backup side's seal-and-store stage. Chunk ids are computed on the
// caller's thread (so the manifest's chunk order is the stream order); compression, encryption
// and the storage Put run on a pool. At most `max_in_flight` chunks are queued or uploading,
// which bounds memory to max_in_flight × max chunk size whatever the database size. A chunk
// whose id is already in the repository (listed once at start) or already sent in this run is
// not stored again.
//
// Deltas: a new chunk that comes with a hint (the previous backup's chunk of the same rows) is
// also compressed against that chunk's whole base — one download — and stored as a delta when
// that is much smaller (docs/repository-format.md §5.1). A delta's base is always a whole
// chunk, so reading any chunk takes at most two objects.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/thread_pool.hpp"
#include "format/repository.hpp"
#include "stream/buffer_pool.hpp"

namespace dhanbak::stream {

// The previous backup's chunk of the same rows: `id` as its manifest lists it, with its base.
struct ChunkHint {
  std::string id;
  std::string base;
};

class ChunkUploader {
 public:
  // Plaintext bytes queued or uploading at most (one chunk is always let in, however large): with
  // chunks of 2.5 MiB on average and 8 MiB at most, memory stays bounded whatever the database.
  static constexpr size_t kMaxInFlightBytes = 16 * 1024 * 1024;

  ChunkUploader(const format::Repository& repo, size_t threads, size_t max_in_flight,
                size_t max_in_flight_bytes = kMaxInFlightBytes);
  ~ChunkUploader();

  // Lists chunks/ once so that chunks stored by earlier runs are not uploaded again.
  void LoadExisting();
  // After the run's repository lock was lost (a prune may have swept chunks meanwhile): forgets
  // what it knew, lists chunks/ again, and returns those of `needed` that are no longer stored.
  // Call between databases or before a manifest, with no upload in flight.
  std::vector<std::string> Resync(const std::vector<std::string>& needed);
  // Chunks found damaged (corrupted or missing) by earlier readers: never deduplicated against.
  // When this run meets one of them again it stores it anew, replacing the bad object (a new
  // version on B2, which readers then get). Call after LoadExisting, before Add.
  void Distrust(const std::vector<std::string>& ids);
  // Ids of distrusted chunks stored again since the last call.
  std::vector<std::string> TakeRestored();
  // Returns the chunk's id; blocks while max_in_flight chunks, or max_in_flight_bytes, are
  // pending. Rethrows the first upload error.
  std::string Add(std::string&& plaintext, const ChunkHint& hint = {});
  // After Flush: how each chunk of `ref` is stored (its `bases`; cleared when all are whole).
  void RecordBases(format::StreamRef& ref) const;
  // Waits until every queued chunk is stored; rethrows the first upload error.
  void Flush();
  // After a database's backup failed: waits for its uploads to settle and forgets their error,
  // so the next database starts clean (chunks that failed to upload are not counted as stored).
  void Recover();

  // Where chunkers feeding this uploader take their buffers: Add gives each chunk's buffer back
  // once the chunk is stored (or found stored already).
  BufferPool& buffers() { return buffers_; }

  int64_t new_chunks() const { return new_chunks_; }
  int64_t reused_chunks() const { return reused_chunks_; }
  int64_t stored_bytes() const { return stored_bytes_; }
  int64_t delta_chunks() const { return delta_chunks_; }
  const format::Repository& repository() const { return repo_; }
  int64_t existing_chunks() const;

 private:
  void RethrowIfFailed();
  // The whole chunk to store `id` against, or "" (no usable hint). Call with mu_ held.
  std::string DeltaBaseFor(const std::string& id, const ChunkHint& hint) const;
  // Seals `plaintext` as a delta against `base` when that pays, else whole; sets `stored_base`.
  // A delta is returned in `delta`; a whole object is written to the calling thread's scratch
  // buffer, which the view points into until the thread's next Seal.
  std::string_view Seal(const std::string& id, const std::string& plaintext, const std::string& base,
                        std::string& stored_base, std::string& delta) const;

  const format::Repository& repo_;
  size_t max_in_flight_;
  size_t max_in_flight_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;
  size_t in_flight_bytes_ = 0;
  std::exception_ptr error_;
  std::unordered_map<std::string, std::string> known_;  // stored chunk id → its base ("" whole)
  std::unordered_set<std::string> distrusted_;
  std::vector<std::string> restored_;
  std::atomic<int64_t> new_chunks_{0}, reused_chunks_{0}, stored_bytes_{0}, delta_chunks_{0};
  BufferPool buffers_;
  ThreadPool pool_;  // last: destroyed (joined) first, while the members above still live
};

}  // namespace dhanbak::stream
