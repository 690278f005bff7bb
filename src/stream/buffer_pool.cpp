#include "stream/buffer_pool.hpp"

#include <utility>

namespace dhanbak::stream {

BufferPool::BufferPool(size_t max_pooled, size_t reserve) : max_pooled_(max_pooled), reserve_(reserve) {
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

void BufferPool::Give(std::string&& buffer) {
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
