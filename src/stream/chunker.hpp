// Content-defined chunker for COPY streams (docs/repository-format.md §Chunking).
//
// A gear rolling hash (FastCDC-style: h = (h << 1) + gear[byte]) looks at every byte; its value
// depends only on the last 64 bytes, so boundaries are a function of content, not of position,
// and an insertion early in a table moves only the chunks around it. A boundary is *wanted*
// where, at least `min_size` bytes into the chunk, (h & mask) == 0; in row-aligned mode the cut
// is then made just after the next '\n' (COPY text rows end with an unescaped newline), so
// chunks hold whole rows. A chunk never exceeds `max_size`: at that size it is cut after the
// last complete row it holds, or — for a single row longer than max_size — at max_size itself.
// The gear table is derived from a per-repository seed so chunk sizes do not fingerprint content
// across repositories.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "stream/buffer_pool.hpp"

namespace dhanbak::stream {

struct ChunkerParams {
  size_t min_size = 512 * 1024;
  size_t avg_bits = 21;  // boundary probability 2^-avg_bits per byte after min_size (~2 MiB mean)
  size_t max_size = 8 * 1024 * 1024;
  uint64_t seed = 0;

  // The chunks' typical size (2 MiB): what an idle pooled chunk buffer keeps resident.
  size_t typical_size() const { return size_t{1} << avg_bits; }
};

class Chunker {
 public:
  using Emit = std::function<void(std::string&& chunk)>;

  // `pool`: where chunk buffers come from (and the uploader gives them back), or null for a new
  // buffer per chunk. It must outlive the chunker.
  Chunker(const ChunkerParams& params, bool row_aligned, BufferPool* pool = nullptr);
  ~Chunker();
  Chunker(const Chunker&) = delete;
  Chunker& operator=(const Chunker&) = delete;

  // Feeds bytes; calls `emit` for every completed chunk (possibly several per call).
  void Feed(std::string_view data, const Emit& emit);
  // Emits the remaining bytes (if any) as the last chunk.
  void Finish(const Emit& emit);

 private:
  void Cut(size_t length, const Emit& emit);
  std::string NewBuffer();

  ChunkerParams params_;
  BufferPool* pool_;
  bool row_aligned_;
  uint64_t mask_;
  std::array<uint64_t, 256> gear_;
  uint64_t hash_ = 0;
  bool want_cut_ = false;
  size_t last_row_end_ = 0;  // length of cur_ up to and including the last '\n', 0 if none
  std::string cur_;
};

}  // namespace dhanbak::stream
