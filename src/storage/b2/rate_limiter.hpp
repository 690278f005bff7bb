// A token bucket shared by every transfer in one direction, so `[b2] max_upload_rate` caps
// the sum over all connections rather than each connection separately.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace dhanbak::storage::b2 {

class RateLimiter {
 public:
  // bytes_per_second 0 = unlimited (Acquire never waits).
  explicit RateLimiter(uint64_t bytes_per_second);

  // Accounts for `bytes` and sleeps for as long as the bucket is in debt.
  void Acquire(size_t bytes);

  bool unlimited() const { return rate_ == 0; }

 private:
  using Clock = std::chrono::steady_clock;
  const uint64_t rate_;
  std::mutex mu_;
  double tokens_;  // may go negative: debt that later callers wait off
  Clock::time_point last_;
};

}  // namespace dhanbak::storage::b2
