// Progress — bytes, rate and ETA of a long-running command. On a terminal it redraws one
// line every second; otherwise it writes a plain log line every 30 seconds. Disabled by
// --no-progress and -q. Thread-safe: Add() may be called from any worker.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/watchdog.hpp"

namespace dhanbak {

class Progress {
 public:
  static void SetEnabled(bool enabled);

  Progress(std::string label, int64_t expected_bytes);
  ~Progress();  // stops the reporter and clears the terminal line
  void Add(int64_t bytes) {
    done_ += bytes;
    Watchdog::Beat();
  }
  int64_t done() const { return done_; }

 private:
  void Report(bool final);
  std::string label_;
  int64_t expected_;
  std::atomic<int64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  bool tty_;
  bool enabled_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dhanbak
