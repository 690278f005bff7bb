#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <stdexcept>

extern char** environ;

namespace dhanbak::test {
namespace {

using Clock = std::chrono::steady_clock;

// How often a pump with no pipe activity checks whether the child already exited. Needed
// because a grandchild (e.g. a daemon started by the child) can inherit the pipes and keep them
// open long after the child itself is gone.
constexpr std::chrono::milliseconds kReapSlice{200};

void IgnoreSigpipeOnce() {
  // A child that exits without reading its stdin must give us EPIPE, not kill the test.
  static const bool done = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

int StatusToExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::vector<std::string> BuildEnvironment(const ProcessOptions& options) {
  std::set<std::string> drop(options.unset_env.begin(), options.unset_env.end());
  for (const auto& [name, value] : options.env) drop.insert(name);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string item(*entry);
    std::string name = item.substr(0, item.find('='));
    if (drop.count(name) == 0) env.push_back(std::move(item));
  }
  for (const auto& [name, value] : options.env) env.push_back(name + "=" + value);
  return env;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct Spawned {
  pid_t pid = -1;
  int stdin_fd = -1;  // -1 when no stdin text was given (child reads /dev/null)
  int out_fd = -1;
  int err_fd = -1;
};

// What a child starts with: its argv and environment, its standard streams (stdin_fd -1 for
// /dev/null), its working directory (nullptr: ours) and umask (none: ours). Its own process
// group, so a timeout can kill it together with anything it started; SIGPIPE at its default;
// none of the test process's other descriptors (sockets, other children's pipes), or a pipe's
// EOF would depend on unrelated processes.
struct ChildSetup {
  char** argv;
  char** envp;
  int stdin_fd, stdout_fd, stderr_fd;
  const char* cwd;
  std::optional<mode_t> umask;
};

// posix_spawn, not fork: fork copies the (instrumented, large) test process's page tables and
// leaves its memory copy-on-write until the child execs, a cost paid at every one of the suite's
// thousands of runs. Returns 0, or the errno that kept the child from starting.
int SpawnChild(const ChildSetup& c, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  if (c.cwd != nullptr) posix_spawn_file_actions_addchdir_np(&actions, c.cwd);
  if (c.stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, c.stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, c.stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, c.stderr_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const int rc = posix_spawnp(&pid, c.argv[0], &actions, &attr, c.argv, c.envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) pid = -1;
  return rc;
}

// fork and exec, for the one thing posix_spawn cannot set: the child's umask.
int ForkChild(const ChildSetup& c, pid_t& pid) {
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return errno;
  pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(exec_pipe[0]);
    close(exec_pipe[1]);
    return e;
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (other test threads may hold malloc locks).
    setpgid(0, 0);
    int stdin_source = c.stdin_fd;
    if (stdin_source < 0) stdin_source = open("/dev/null", O_RDONLY);
    dup2(stdin_source, 0);
    dup2(c.stdout_fd, 1);
    dup2(c.stderr_fd, 2);
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    signal(SIGPIPE, SIG_DFL);
    ::umask(*c.umask);
    if (c.cwd == nullptr || chdir(c.cwd) == 0) execvpe(c.argv[0], c.argv, c.envp);
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  close(exec_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  return n == static_cast<ssize_t>(sizeof child_errno) ? child_errno : 0;
}

Spawned Spawn(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) throw std::runtime_error("RunProcess: empty argv");
  IgnoreSigpipeOnce();

  // Everything the child needs is prepared before it starts.
  std::vector<std::string> env_strings = BuildEnvironment(options);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> argvp;
  for (auto& s : argv_copy) argvp.push_back(s.data());
  argvp.push_back(nullptr);

  int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2];
  if ((options.stdin_text && pipe2(in_pipe, O_CLOEXEC) != 0) || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  ChildSetup setup{argvp.data(), envp.data(), in_pipe[0], out_pipe[1], err_pipe[1],
                   options.cwd.empty() ? nullptr : options.cwd.c_str(), options.umask};
  pid_t pid = -1;
  const int child_errno = setup.umask ? ForkChild(setup, pid) : SpawnChild(setup, pid);
  if (pid > 0) setpgid(pid, pid);  // also from the parent: no race with an early kill(-pid)
  if (in_pipe[0] >= 0) close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (child_errno != 0) {
    if (pid > 0) {
      int status;
      waitpid(pid, &status, 0);
    }
    if (in_pipe[1] >= 0) close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("cannot start " + DescribeCommand(argv) + ": " + std::strerror(child_errno));
  }
  Spawned spawned{pid, in_pipe[1], out_pipe[0], err_pipe[0]};
  if (spawned.stdin_fd >= 0) SetNonBlocking(spawned.stdin_fd);
  SetNonBlocking(spawned.out_fd);
  SetNonBlocking(spawned.err_fd);
  return spawned;
}

// Reads everything currently available; returns false at EOF or on error.
bool DrainFd(int fd, const std::function<void(const char*, size_t)>& sink) {
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      sink(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

struct PumpResult {
  int exit_code = -1;
  bool timed_out = false;
};

// Feeds stdin, drains stdout/stderr into the sinks and reaps the child. Reaching `deadline`
// (time_point::max() = never) kills the process group.
PumpResult Pump(Spawned spawned, const std::string& stdin_text, Clock::time_point deadline,
                const std::function<void(const char*, size_t)>& on_out,
                const std::function<void(const char*, size_t)>& on_err) {
  PumpResult result;
  size_t stdin_offset = 0;
  int in_fd = spawned.stdin_fd, out_fd = spawned.out_fd, err_fd = spawned.err_fd;
  bool reaped = false;
  int status = 0;
  auto close_fd = [](int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  };
  if (in_fd >= 0 && stdin_text.empty()) close_fd(in_fd);

  while (in_fd >= 0 || out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int count = 0;
    int in_idx = -1, out_idx = -1, err_idx = -1;
    if (in_fd >= 0) { in_idx = count; fds[count++] = {in_fd, POLLOUT, 0}; }
    if (out_fd >= 0) { out_idx = count; fds[count++] = {out_fd, POLLIN, 0}; }
    if (err_fd >= 0) { err_idx = count; fds[count++] = {err_fd, POLLIN, 0}; }
    auto slice = kReapSlice;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      slice = std::max(std::chrono::milliseconds(0), std::min(slice, left));
    }
    int n = poll(fds, count, static_cast<int>(slice.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (n > 0) {
      if (in_idx >= 0 && fds[in_idx].revents != 0) {
        if (fds[in_idx].revents & POLLOUT) {
          ssize_t w = write(in_fd, stdin_text.data() + stdin_offset, std::min<size_t>(stdin_text.size() - stdin_offset, 65536));
          if (w > 0) stdin_offset += static_cast<size_t>(w);
          if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_offset == stdin_text.size()) close_fd(in_fd);
        } else {
          close_fd(in_fd);  // POLLERR / POLLHUP: the child closed its stdin
        }
      }
      if (out_idx >= 0 && fds[out_idx].revents != 0 && !DrainFd(out_fd, on_out)) close_fd(out_fd);
      if (err_idx >= 0 && fds[err_idx].revents != 0 && !DrainFd(err_fd, on_err)) close_fd(err_fd);
      continue;
    }
    // Quiet slice: deadline reached, or the child gone while a grandchild holds the pipes?
    if (Clock::now() >= deadline && !result.timed_out) {
      result.timed_out = true;
      kill(-spawned.pid, SIGKILL);
      deadline = Clock::time_point::max();
      continue;  // the pipes close once the group is dead
    }
    if (waitpid(spawned.pid, &status, WNOHANG) == spawned.pid) {
      reaped = true;
      if (out_fd >= 0) DrainFd(out_fd, on_out);
      if (err_fd >= 0) DrainFd(err_fd, on_err);
      break;
    }
  }
  close_fd(in_fd);
  close_fd(out_fd);
  close_fd(err_fd);

  while (!reaped) {
    bool bounded = deadline != Clock::time_point::max();
    pid_t r = waitpid(spawned.pid, &status, bounded ? WNOHANG : 0);
    if (r == spawned.pid) {
      reaped = true;
    } else if (r < 0 && errno != EINTR) {
      break;
    } else if (r == 0) {
      if (Clock::now() >= deadline) {
        result.timed_out = true;
        kill(-spawned.pid, SIGKILL);
        deadline = Clock::time_point::max();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  result.exit_code = reaped ? StatusToExitCode(status) : -1;
  return result;
}

Clock::time_point DeadlineFor(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return Clock::time_point::max();
  return Clock::now() + timeout;
}

}  // namespace

std::string DescribeCommand(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$") == std::string::npos;
    text += plain ? arg : "'" + arg + "'";
  }
  return text;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  Spawned spawned = Spawn(argv, options);
  ProcessResult result;
  PumpResult pumped = Pump(
      spawned, options.stdin_text.value_or(""), DeadlineFor(options.timeout),
      [&](const char* data, size_t size) { result.out.append(data, size); },
      [&](const char* data, size_t size) { result.err.append(data, size); });
  result.exit_code = pumped.exit_code;
  result.timed_out = pumped.timed_out;
  return result;
}

std::string RunOrThrow(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult result = RunProcess(argv, options);
  if (result.exit_code != 0 || result.timed_out) {
    throw std::runtime_error(DescribeCommand(argv) +
                             (result.timed_out ? " timed out" : " exited with " + std::to_string(result.exit_code)) +
                             (result.err.empty() ? "" : ": " + result.err));
  }
  return result.out;
}

// ---------------------------------------------------------------- BackgroundProcess

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const ProcessOptions& options)
    : argv_(argv) {
  Spawned spawned = Spawn(argv, options);
  pid_ = spawned.pid;
  std::string stdin_text = options.stdin_text.value_or("");
  reader_ = std::thread([this, spawned, stdin_text] {
    PumpResult pumped = Pump(
        spawned, stdin_text, Clock::time_point::max(),
        [this](const char* data, size_t size) {
          std::lock_guard lock(mutex_);
          out_.append(data, size);
          changed_.notify_all();
        },
        [this](const char* data, size_t size) {
          std::lock_guard lock(mutex_);
          err_.append(data, size);
          changed_.notify_all();
        });
    std::lock_guard lock(mutex_);
    exit_code_ = pumped.exit_code;
    reaped_ = true;
    changed_.notify_all();
  });
}

BackgroundProcess::~BackgroundProcess() {
  {
    std::lock_guard lock(mutex_);
    if (!reaped_) kill(-pid_, SIGKILL);
  }
  if (reader_.joinable()) reader_.join();
}

void BackgroundProcess::Signal(int signal_number) {
  std::lock_guard lock(mutex_);
  // After reaping the pid may belong to someone else.
  if (!reaped_) kill(pid_, signal_number);
}

bool BackgroundProcess::Running() {
  std::lock_guard lock(mutex_);
  return !reaped_;
}

bool BackgroundProcess::WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (out_.find(needle) != std::string::npos || err_.find(needle) != std::string::npos) return true;
    if (reaped_) return false;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return out_.find(needle) != std::string::npos || err_.find(needle) != std::string::npos;
    }
  }
}

ProcessResult BackgroundProcess::Wait(std::chrono::milliseconds timeout) {
  ProcessResult result;
  {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [this] { return reaped_; })) {
      result.timed_out = true;
      kill(-pid_, SIGKILL);
    }
  }
  if (reader_.joinable()) reader_.join();
  std::lock_guard lock(mutex_);
  result.exit_code = exit_code_;
  result.out = out_;
  result.err = err_;
  return result;
}

std::string BackgroundProcess::Stdout() {
  std::lock_guard lock(mutex_);
  return out_;
}

std::string BackgroundProcess::Stderr() {
  std::lock_guard lock(mutex_);
  return err_;
}

}  // namespace dhanbak::test
