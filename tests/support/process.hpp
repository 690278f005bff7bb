// Child processes for tests: run a program without a shell, feed it stdin, capture stdout and
// stderr, and (for interruption tests) keep one running in the background and signal it.
//
// No shell is involved anywhere, so arguments never need quoting. Both output pipes are drained
// with poll() while stdin is written, so a child that fills one pipe while we wait on another can
// never deadlock us.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dhanbak::test {

struct ProcessResult {
  int exit_code = -1;     // exit status, or 128 + signal number if the child was killed
  std::string out;        // everything the child wrote to stdout
  std::string err;        // everything the child wrote to stderr
  bool timed_out = false; // the timeout expired and the child was killed with SIGKILL
};

struct ProcessOptions {
  // Added to (or replacing entries of) the parent's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Names removed from the inherited environment (e.g. "PGDATABASE"), applied before `env`.
  std::vector<std::string> unset_env;
  // Written to the child's stdin, which is then closed; without it stdin is /dev/null.
  std::optional<std::string> stdin_text;
  // Working directory of the child; empty = inherit.
  std::string cwd;
  // The child's umask; nullopt = inherit.
  std::optional<mode_t> umask;
  // 0 = wait forever. On expiry the child's process group is killed (SIGKILL).
  std::chrono::milliseconds timeout{0};
};

// Runs argv[0] (looked up in PATH) with argv, waits for it, returns its status and output.
// Throws std::runtime_error only when the program cannot be started at all.
ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// RunProcess, but a non-zero exit (or timeout) throws std::runtime_error carrying the command
// line, exit code and stderr. Returns stdout.
std::string RunOrThrow(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The command line as a readable string (for messages only; not shell-safe).
std::string DescribeCommand(const std::vector<std::string>& argv);

// A child started now and left running: e.g. `dhanbak backup` that a test interrupts with
// SIGTERM once it has printed some progress. Output is collected by a reader thread.
// The destructor kills (SIGKILL) the child's whole process group if it is still running.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal_number` to the child itself (not its group): the child is expected to
  // clean up its own children, which is exactly what interruption tests check.
  void Signal(int signal_number);

  // True while the child has not exited.
  bool Running();

  // Waits until stdout or stderr contains `needle`; false if the child exited or the timeout
  // passed first.
  bool WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout);

  // Waits for the child to exit. On timeout the process group is killed with SIGKILL and the
  // result has timed_out = true. Can be called once.
  ProcessResult Wait(std::chrono::milliseconds timeout);

  // Output collected so far.
  std::string Stdout();
  std::string Stderr();

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mutex_;               // guards everything below
  std::condition_variable changed_;  // new output or the child reaped
  std::string out_;
  std::string err_;
  bool reaped_ = false;  // set by the reader thread, which is the only one calling waitpid
  int exit_code_ = -1;
};

}  // namespace dhanbak::test
