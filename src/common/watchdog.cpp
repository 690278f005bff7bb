#include "common/watchdog.hpp"

#include <atomic>

#include "common/interrupt.hpp"
#include "common/log.hpp"

namespace dhanbak {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int64_t> g_last_beat{0};  // Clock ticks
std::mutex g_fired_reason_mu;
std::string g_fired_reason;

int64_t TicksNow() { return Clock::now().time_since_epoch().count(); }

std::string LimitText(std::chrono::seconds s) {
  const int64_t n = s.count();
  if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
  if (n % 60 == 0) return std::to_string(n / 60) + "m";
  return std::to_string(n) + "s";
}

}  // namespace

Watchdog::Watchdog(std::chrono::seconds run_timeout, std::chrono::seconds stall_timeout)
    : run_timeout_(run_timeout), stall_timeout_(stall_timeout) {
  Beat();
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

void Watchdog::Beat() { g_last_beat.store(TicksNow(), std::memory_order_relaxed); }

std::string Watchdog::Fired() {
  std::lock_guard<std::mutex> lock(g_fired_reason_mu);
  return g_fired_reason;
}

void Watchdog::Run() {
  const auto started = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) {
    std::string reason;
    const auto now = Clock::now();
    const auto idle = now - Clock::time_point(Clock::duration(g_last_beat.load(std::memory_order_relaxed)));
    if (run_timeout_.count() > 0 && now - started > run_timeout_) {
      reason = "the run exceeded [limits] run_timeout (" + LimitText(run_timeout_) + ")";
    } else if (stall_timeout_.count() > 0 && idle > stall_timeout_) {
      reason = "nothing moved for [limits] stall_timeout (" + LimitText(stall_timeout_) +
               "): a lock wait or a dead connection";
    }
    if (reason.empty()) continue;
    {
      std::lock_guard<std::mutex> r(g_fired_reason_mu);
      g_fired_reason = reason;
    }
    log::Error(reason + ": stopping it as on SIGTERM (cleanup follows)");
    RequestInterrupt(reason);
    return;
  }
}

}  // namespace dhanbak
