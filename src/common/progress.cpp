#include "common/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "common/log.hpp"

namespace dhanbak {
namespace {
std::atomic<bool> g_enabled{true};
}

void Progress::SetEnabled(bool enabled) { g_enabled = enabled; }

Progress::Progress(std::string label, int64_t expected_bytes)
    : label_(std::move(label)),
      expected_(expected_bytes),
      start_(std::chrono::steady_clock::now()),
      tty_(isatty(STDERR_FILENO) == 1),
      enabled_(g_enabled.load() && log::GetLevel() <= log::Level::kInfo) {
  if (!enabled_) return;
  thread_ = std::thread([this] {
    auto period = tty_ ? std::chrono::seconds(1) : std::chrono::seconds(30);
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) Report(false);
  });
}

Progress::~Progress() {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (tty_) std::fputs("\r\033[K", stderr);
}

void Progress::Report(bool) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double done = static_cast<double>(done_.load());
  double rate = secs > 0 ? done / secs : 0;
  std::string line = label_ + ": " + log::FormatBytes(done);
  if (expected_ > 0) line += " of ~" + log::FormatBytes(static_cast<double>(expected_));
  line += ", " + log::FormatBytes(rate) + "/s";
  if (expected_ > 0 && rate > 0 && done < static_cast<double>(expected_)) {
    int eta = static_cast<int>((static_cast<double>(expected_) - done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, ", ETA %d:%02d", eta / 60, eta % 60);
    line += buf;
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  } else {
    log::Info(line);
  }
}

}  // namespace dhanbak
