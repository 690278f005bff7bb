#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

Spawned Spawn(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) throw std::runtime_error("RunProcess: empty argv");
  IgnoreSigpipeOnce();

  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (other test threads may hold malloc locks).
  std::vector<std::string> env_strings = BuildEnvironment(options);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> argvp;
  for (auto& s : argv_copy) argvp.push_back(s.data());
  argvp.push_back(nullptr);

  int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2], exec_pipe[2];
  if ((options.stdin_text && pipe2(in_pipe, O_CLOEXEC) != 0) || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(exec_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const std::optional<mode_t> child_umask = options.umask;

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Own process group, so a timeout can kill the child together with anything it started.
    setpgid(0, 0);
    int stdin_source = in_pipe[0];
    if (stdin_source < 0) stdin_source = open("/dev/null", O_RDONLY);
    dup2(stdin_source, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    // Descriptors the test process holds (sockets, other children's pipes) must not leak into
    // the child, or a pipe's EOF would depend on unrelated processes.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    signal(SIGPIPE, SIG_DFL);
    if (child_umask) ::umask(*child_umask);
    if (cwd != nullptr && chdir(cwd) != 0) {
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    execvpe(argvp[0], argvp.data(), envp.data());
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent: no race with an early kill(-pid)
  if (in_pipe[0] >= 0) close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(exec_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    waitpid(pid, &status, 0);
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
