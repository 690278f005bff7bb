#include "stream/buffer_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace dhanbak::stream {

BufferPool::BufferPool(size_t max_pooled, size_t reserve, size_t typical)
    : max_pooled_(max_pooled),
      reserve_(reserve),
      keep_resident_(std::max(typical, kIdleResidentBytes / std::max<size_t>(1, max_pooled))) {
  free_.reserve(max_pooled);
}

std::string BufferPool::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      std::string buffer = std::move(free_.back());
      free_.pop_back();
      return buffer;
    }
  }
  std::string buffer;
  buffer.reserve(reserve_);
  return buffer;
}

namespace {

// Gives the pages of `buffer` between `keep` and the end of what it last held back to the system
// (they read as zeros when written again). Only whole pages inside the buffer: malloc's own
// headers lie outside it.
void ReleasePagesBeyond(std::string& buffer, size_t keep) {
  if (buffer.size() <= keep) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t from = (begin + keep + page - 1) / page * page;
  const uintptr_t to = (begin + buffer.size()) / page * page;
  if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
}

}  // namespace

void BufferPool::Give(std::string&& buffer) {
  ReleasePagesBeyond(buffer, keep_resident_);
  buffer.clear();  // keeps the capacity
  std::string dropped;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  // A buffer below the reserve (one a caller left moved-from) would grow by reallocation again.
  if (free_.size() < max_pooled_ && buffer.capacity() >= reserve_) {
    free_.push_back(std::move(buffer));
  } else {
    dropped = std::move(buffer);
  }
}

size_t BufferPool::pooled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

}  // namespace dhanbak::stream
