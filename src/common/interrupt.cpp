#include "common/interrupt.hpp"

#include <signal.h>

#include <atomic>
#include <mutex>
#include <string>

#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

std::atomic<int> g_signal{0};
std::mutex g_interrupt_reason_mu;
std::string g_interrupt_reason;  // set by RequestInterrupt, never by a signal handler

extern "C" void OnSignal(int sig) { g_signal.store(sig); }

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A dropped SSH session sends SIGHUP: a restore or backup must clean up as for SIGTERM, not
  // die half-way.
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool Interrupted() { return g_signal.load() != 0; }

int InterruptSignal() { return g_signal.load(); }

void RequestInterrupt(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(g_interrupt_reason_mu);
    g_interrupt_reason = reason;
  }
  g_signal.store(SIGTERM);
}

std::string InterruptReason() {
  std::lock_guard<std::mutex> lock(g_interrupt_reason_mu);
  return g_interrupt_reason;
}

void ThrowIfInterrupted() {
  int sig = g_signal.load();
  if (sig != 0) {
    if (std::string reason = InterruptReason(); !reason.empty()) throw Error(ErrorCode::kInterrupted, reason);
    throw Error(ErrorCode::kInterrupted, sig == SIGINT   ? "interrupted by SIGINT"
                                         : sig == SIGHUP ? "interrupted by SIGHUP (the terminal went away)"
                                                         : "interrupted by SIGTERM");
  }
}

}  // namespace dhanbak
