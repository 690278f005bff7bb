#include "common/watchdog.hpp"

#include <atomic>

#include "common/interrupt.hpp"
#include "common/log.hpp"

namespace dhanbak {
namespace {

using Clock = std::chrono::steady_clock;

// Set by Beat(), taken by the watchdog's thread at each check.
std::atomic<bool> g_moved{false};

std::string LimitText(std::chrono::seconds s) {
  const int64_t n = s.count();
  if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
  if (n % 60 == 0) return std::to_string(n / 60) + "m";
  return std::to_string(n) + "s";
}

}  // namespace

Watchdog::Watchdog(std::chrono::seconds run_timeout, std::chrono::seconds stall_timeout)
    : run_timeout_(run_timeout), stall_timeout_(stall_timeout) {
  if (run_timeout_.count() > 0 || stall_timeout_.count() > 0) thread_ = std::thread([this] { Run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::Beat() {
  // Called for every row copied: a load of a line the workers share, a store once per check.
  if (!g_moved.load(std::memory_order_relaxed)) g_moved.store(true, std::memory_order_relaxed);
}

void Watchdog::Run() {
  const auto started = Clock::now();
  auto last_moved = started;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) {
    std::string reason;
    const auto now = Clock::now();
    if (g_moved.exchange(false, std::memory_order_relaxed)) last_moved = now;
    const auto idle = now - last_moved;
    if (run_timeout_.count() > 0 && now - started > run_timeout_) {
      reason = "the run exceeded [limits] run_timeout (" + LimitText(run_timeout_) + ")";
    } else if (stall_timeout_.count() > 0 && idle > stall_timeout_) {
      reason = "nothing moved for [limits] stall_timeout (" + LimitText(stall_timeout_) +
               "): a lock wait or a dead connection";
    }
    if (reason.empty()) continue;
    log::Error(reason + ": stopping it as on SIGTERM (cleanup follows)");
    RequestInterrupt(reason);
    return;
  }
}

}  // namespace dhanbak
