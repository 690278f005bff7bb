#include "stream/chunker.hpp"

#include <utility>

#include "dhanbak/error.hpp"

namespace dhanbak::stream {
namespace {

// splitmix64: a well-mixed deterministic sequence from one 64-bit seed.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Chunker::Chunker(const ChunkerParams& params, bool row_aligned, BufferPool* pool)
    : params_(params), pool_(pool), row_aligned_(row_aligned) {
  if (params.min_size == 0 || params.min_size > params.max_size || params.avg_bits < 8 ||
      params.avg_bits > 40) {
    throw Error(ErrorCode::kInvalidArgument, "invalid chunker parameters");
  }
  // The mask takes the *high* bits of the hash: with h = (h << 1) + g, high bits mix the most
  // bytes of the window.
  mask_ = ~0ull << (64 - params.avg_bits);
  uint64_t state = params.seed;
  for (auto& g : gear_) g = SplitMix64(state);
  cur_ = NewBuffer();
}

Chunker::~Chunker() {
  if (pool_) pool_->Give(std::move(cur_));
}

std::string Chunker::NewBuffer() { return pool_ ? pool_->Take() : std::string(); }

void Chunker::Cut(size_t length, const Emit& emit) {
  // The filled buffer is handed over as it is, not copied. A cut before its end (at max_size,
  // after the last whole row) keeps only the partial row aside. The next buffer is taken once
  // `emit` returns: `emit` may wait for the uploader's budget, and a buffer taken before would sit
  // empty meanwhile, one more chunk-sized buffer per COPY job (buffer_pool.hpp). Without a pool the
  // new buffer is not reserved at the maximum chunk size, so only what a chunk holds is resident
  // while it is uploaded.
  std::string chunk = std::exchange(cur_, std::string());
  std::string rest;
  if (length < chunk.size()) {
    rest.assign(chunk, length, std::string::npos);
    chunk.resize(length);
  }
  want_cut_ = false;
  emit(std::move(chunk));
  cur_ = NewBuffer();
  cur_.append(rest);
  last_row_end_ = 0;
  if (row_aligned_) {
    size_t nl = cur_.rfind('\n');
    if (nl != std::string::npos) last_row_end_ = nl + 1;
  }
}

void Chunker::Feed(std::string_view data, const Emit& emit) {
  size_t i = 0;
  while (i < data.size()) {
    // Copy a run of bytes into cur_, hashing each, until a cut is due or the input ends.
    size_t start = i;
    size_t len = cur_.size();
    bool cut = false;
    while (i < data.size()) {
      unsigned char b = static_cast<unsigned char>(data[i++]);
      ++len;
      hash_ = (hash_ << 1) + gear_[b];
      if (!want_cut_ && len >= params_.min_size && (hash_ & mask_) == 0) want_cut_ = true;
      if (b == '\n') last_row_end_ = len;
      if (want_cut_ && (!row_aligned_ || b == '\n')) {
        cut = true;
        break;
      }
      if (len >= params_.max_size) {
        cut = true;
        break;
      }
    }
    cur_.append(data.substr(start, i - start));
    if (!cut) break;
    if (want_cut_ && (!row_aligned_ || cur_.back() == '\n')) {
      Cut(cur_.size(), emit);
    } else if (row_aligned_ && last_row_end_ >= params_.min_size) {
      Cut(last_row_end_, emit);  // at max_size: keep whole rows, carry the partial row over
    } else {
      Cut(cur_.size(), emit);  // one row longer than max_size: cut it
    }
  }
}

void Chunker::Finish(const Emit& emit) {
  if (!cur_.empty()) Cut(cur_.size(), emit);
}

}  // namespace dhanbak::stream
