// ChunkUploader — the backup side's seal-and-store stage. Chunk ids are computed on the
// caller's thread (so the manifest's chunk order is the stream order); compression, encryption
// and the storage Put run on a pool. At most `max_in_flight` chunks are queued or uploading,
// which bounds memory to max_in_flight × max chunk size whatever the database size. A chunk
// whose id is already in the repository (listed once at start) or already sent in this run is
// not stored again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/thread_pool.hpp"
#include "format/repository.hpp"

namespace dhanbak::stream {

class ChunkUploader {
 public:
  ChunkUploader(const format::Repository& repo, size_t threads, size_t max_in_flight);
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
  // Returns the chunk's id; blocks while max_in_flight chunks are pending. Rethrows the first
  // upload error.
  std::string Add(std::string&& plaintext);
  // Waits until every queued chunk is stored; rethrows the first upload error.
  void Flush();
  // After a database's backup failed: waits for its uploads to settle and forgets their error,
  // so the next database starts clean (chunks that failed to upload are not counted as stored).
  void Recover();

  int64_t new_chunks() const { return new_chunks_; }
  int64_t reused_chunks() const { return reused_chunks_; }
  int64_t stored_bytes() const { return stored_bytes_; }
  int64_t existing_chunks() const;

 private:
  void RethrowIfFailed();

  const format::Repository& repo_;
  size_t max_in_flight_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;
  std::exception_ptr error_;
  std::unordered_set<std::string> known_;
  std::unordered_set<std::string> distrusted_;
  std::vector<std::string> restored_;
  std::atomic<int64_t> new_chunks_{0}, reused_chunks_{0}, stored_bytes_{0};
  ThreadPool pool_;  // last: destroyed (joined) first, while the members above still live
};

}  // namespace dhanbak::stream
