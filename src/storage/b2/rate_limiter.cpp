#include "storage/b2/rate_limiter.hpp"

#include <algorithm>
#include <thread>

namespace dhanbak::storage::b2 {

RateLimiter::RateLimiter(uint64_t bytes_per_second)
    : rate_(bytes_per_second), tokens_(static_cast<double>(bytes_per_second)), last_(Clock::now()) {}

void RateLimiter::Acquire(size_t bytes) {
  if (rate_ == 0) return;
  std::chrono::duration<double> wait{0};
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    // Burst of at most one second's worth, so an idle period does not allow a spike.
    tokens_ = std::min(static_cast<double>(rate_), tokens_ + elapsed * static_cast<double>(rate_));
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / static_cast<double>(rate_));
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

}  // namespace dhanbak::storage::b2
