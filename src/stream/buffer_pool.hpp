// BufferPool — chunk-sized byte buffers handed round instead of allocated and freed per chunk.
//
// A backup cuts, hashes, seals and frees thousands of chunks of 0.5–8 MiB. Freed that way, each
// block goes back to one of glibc's arenas, which keep freed memory resident and reuse it only for
// blocks that fit: the arenas' high-water marks, not the live chunks, made the backup's peak RSS
// (about 40 MiB above its live heap at scale 1). Returning the blocks to the system instead
// (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD) costs a page fault per 4 KiB on every chunk: 50–90% slower.
// A pooled buffer keeps its capacity and its pages: the chunker fills it, the uploader gives it
// back once the chunk is stored, and the next chunk reuses the same resident pages.
//
// Bounded: at most `max_pooled` buffers are kept; a buffer given back beyond that is freed, so
// what the pool holds does not grow with the database whatever the callers do. And the idle
// buffers keep at most about kIdleResidentBytes of pages between them (each at least a typical
// chunk's): otherwise every buffer would, in time, hold the pages of the largest chunk it ever
// carried (8 MiB), and a B2 backup's dozen buffers made it peak at 106-110 MiB at scale 1, against
// 68-72 MiB trimmed (docs/decisions.md "Memory"). A chunk larger than what its buffer kept pays a
// page fault per 4 KiB beyond it, so a pool of few buffers (a local backup's five) keeps more each.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace dhanbak::stream {

class BufferPool {
 public:
  // `reserve`: the capacity a new buffer is created with (the largest chunk), so that a buffer
  // never grows by reallocation — each growth by doubling would free the smaller block into an
  // arena. Reserved pages that are never written are never resident. `typical`: the size most
  // buffers are filled to, the least an idle buffer keeps resident.
  BufferPool(size_t max_pooled, size_t reserve, size_t typical);

  static constexpr size_t kIdleResidentBytes = 16 * 1024 * 1024;

  // An empty buffer: a pooled one (its capacity kept) when there is one, else a new one.
  std::string Take();
  // Keeps `buffer` for a later Take (emptied, its pages beyond keep_resident() given back) unless
  // `max_pooled` are kept already or it holds less than the reserve.
  void Give(std::string&& buffer);

  size_t pooled() const;
  size_t max_pooled() const { return max_pooled_; }
  // The bytes of pages each idle buffer keeps: max(typical, kIdleResidentBytes / max_pooled).
  size_t keep_resident() const { return keep_resident_; }

 private:
  const size_t max_pooled_;
  const size_t reserve_;
  const size_t keep_resident_;
  mutable std::mutex mu_;
  std::vector<std::string> free_;
};

}  // namespace dhanbak::stream
