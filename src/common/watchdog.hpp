// Watchdog — [limits] run_timeout and stall_timeout: a run that takes too long in all, or in
// which nothing moves for too long (a lock wait, a dead network), is stopped the way SIGTERM
// stops it: every stage unwinds through its cleanup (queries cancelled, children killed, locks
// released, nothing half-written), and the run ends as failed with the reason.
//
// "Something moved" is any byte a progress report counts (rows copied, chunks uploaded, data
// restored) and any output of a child process (pg_dump, pg_restore): a stall is a run that shows
// none for stall_timeout. A long silent step (one big index built by pg_restore) shows none too:
// set stall_timeout above the longest such step. Why it stopped a run: InterruptReason().
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace dhanbak {

class Watchdog {
 public:
  // Zero turns a limit off; with both off no thread is started.
  Watchdog(std::chrono::seconds run_timeout, std::chrono::seconds stall_timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Something moved (cheap enough for every row: no clock read, rarely a store).
  static void Beat();

 private:
  void Run();
  std::chrono::seconds run_timeout_, stall_timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dhanbak
