// Processes of a test as seen in /proc, and a dhanbak run stopped at one of its pause points
// (DHANBAK_TEST_PAUSE) so that a test can signal it there: how the kill -9 / SIGTERM tests reach
// every phase of a long command.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace dhanbak::test {

// Calls fn(pid, cmdline, environ) for every process (arguments and variables NUL-separated).
void ForEachProcess(const std::function<void(pid_t, const std::string&, const std::string&)>& fn);

// Whether any process's command line contains `needle`.
bool AnyProcessMentions(const std::string& needle);

// The handshake of dhanbak's pause points (DHANBAK_TEST_PAUSE, DHANBAK_TEST_PAUSE_DIR=dir): the run
// writes dir/POINT.reached when it stops there and goes on once dir/POINT.continue exists.
// WaitForPausePoint returns false if `process` ends or `timeout` passes first.
bool WaitForPausePoint(const std::string& dir, const std::string& point, BackgroundProcess& process,
                       std::chrono::seconds timeout);
void ContinueFromPausePoint(const std::string& dir, const std::string& point);

// A dhanbak run (as the server's user) that stops at pause point `point`; Signal() reaches dhanbak itself.
class PausedCommand {
 public:
  PausedCommand(const WalArchiveEnv& env, const std::vector<std::string>& args, const std::string& point);
  void WaitForPause();
  // Signals the dhanbak process itself (found by its pause directory in its environment).
  void Signal(int sig);
  ProcessResult Finish();

 private:
  static inline int counter_ = 0;
  std::string point_, command_, pause_dir_, needle_;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace dhanbak::test
