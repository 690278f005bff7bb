#include "common/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/interrupt.hpp"
#include "common/watchdog.hpp"
#include "dhanbak/error.hpp"

extern char** environ;

namespace dhanbak {
namespace {

constexpr size_t kStderrTail = 16 * 1024;

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  }
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  void CloseRead() { ::close(fds[0]), fds[0] = -1; }
  void CloseWrite() { ::close(fds[1]), fds[1] = -1; }
};

int WaitChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 255;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// Linux allows an exec's arguments and environment a quarter of the stack limit (2 MiB under
// the usual 8 MiB). One pg_dump pattern per table of a 20,000-table database can need more, and
// pg_dump before 17 reads patterns only from its command line: the child's soft stack limit is
// raised (within the hard limit) to fit. Returns 0 when the default suffices.
rlim_t StackLimitFor(const std::vector<char*>& argv, const std::vector<char*>& envp) {
  size_t bytes = 0;
  for (const auto* list : {&argv, &envp})
    for (const char* s : *list) bytes += (s ? std::strlen(s) + 1 : 0) + sizeof(char*);
  if (bytes < 256 * 1024) return 0;
  return static_cast<rlim_t>(bytes) * 4 + 16 * 1024 * 1024;
}

// Raised in dhanbak itself, which the child inherits: posix_spawn runs no code of ours in the
// child. Only ever raised, within the hard limit, so concurrent runs cannot undo each other;
// dhanbak's own threads and memory layout were fixed at its start and do not change.
void RaiseStackLimit(rlim_t wanted) {
  struct rlimit limit;
  if (wanted == 0 || ::getrlimit(RLIMIT_STACK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur >= wanted) {
    return;
  }
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  ::setrlimit(RLIMIT_STACK, &limit);
}

// posix_spawn's file actions and attributes, destroyed however the start ends.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

SubprocessResult RunSubprocess(const SubprocessOptions& options) {
  if (options.argv.empty()) throw Error(ErrorCode::kInternal, "empty argv");
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const auto& [k, v] : options.env) overridden = overridden || key == k;
    if (!overridden) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::string stdin_path = options.stdin_file.value_or("/dev/null");
  const rlim_t stack_limit = StackLimitFor(argv, envp);

  // posix_spawn, not fork: fork copies dhanbak's page tables and leaves every page of its memory
  // copy-on-write until the child execs, which its busy threads then pay for page by page
  // (docs/decisions.md, "Tests and CI time").
  Pipe out, err;
  SpawnSetup setup;
  ::posix_spawn_file_actions_addopen(&setup.actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&setup.actions, out.fds[1], 1);
  ::posix_spawn_file_actions_adddup2(&setup.actions, err.fds[1], 2);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);  // dhanbak ignores SIGPIPE; its children must not inherit that
  ::posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  ::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGDEF);
  RaiseStackLimit(stack_limit);
  pid_t pid = -1;
  if (int rc = ::posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data()); rc != 0) {
    throw Error(ErrorCode::kIo, "cannot run '" + options.argv[0] + "': " + std::strerror(rc));
  }
  out.CloseWrite();
  err.CloseWrite();

  SubprocessResult result;
  std::string line_buf;
  std::vector<char> buf(1 << 16);
  bool out_open = true, err_open = true;
  try {
    while (out_open || err_open) {
      pollfd fds[2] = {{out_open ? out.fds[0] : -1, POLLIN, 0}, {err_open ? err.fds[0] : -1, POLLIN, 0}};
      // A short timeout lets a SIGTERM end a child that produces no output (e.g. waiting on a lock).
      ThrowIfInterrupted();
      if (::poll(fds, 2, 250) < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::kIo, std::string("poll: ") + std::strerror(errno));
      }
      if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::read(out.fds[0], buf.data(), buf.size());
        if (n > 0) Watchdog::Beat();
        if (n > 0 && options.on_stdout) options.on_stdout(std::string_view(buf.data(), static_cast<size_t>(n)));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) out_open = false;
      }
      if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::read(err.fds[0], buf.data(), buf.size());
        if (n > 0) {
          Watchdog::Beat();
          result.stderr_tail.append(buf.data(), static_cast<size_t>(n));
          if (result.stderr_tail.size() > 2 * kStderrTail) result.stderr_tail.erase(0, result.stderr_tail.size() - kStderrTail);
          if (options.on_stderr_line) {
            line_buf.append(buf.data(), static_cast<size_t>(n));
            size_t nl;
            while ((nl = line_buf.find('\n')) != std::string::npos) {
              options.on_stderr_line(std::string_view(line_buf).substr(0, nl));
              line_buf.erase(0, nl + 1);
            }
          }
        }
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) err_open = false;
      }
    }
  } catch (...) {
    ::kill(pid, SIGTERM);
    WaitChild(pid);
    throw;
  }
  result.exit_code = WaitChild(pid);
  if (result.stderr_tail.size() > kStderrTail) result.stderr_tail.erase(0, result.stderr_tail.size() - kStderrTail);
  while (!result.stderr_tail.empty() && result.stderr_tail.back() == '\n') result.stderr_tail.pop_back();
  return result;
}

std::string FindPgProgram(const std::string& name, int server_version_num) {
  namespace fs = std::filesystem;
  if (const char* dir = std::getenv("DHANBAK_PG_BINDIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/" + name;
  }
  std::error_code ec;
  std::string exact = "/usr/lib/postgresql/" + std::to_string(server_version_num / 10000) + "/bin/" + name;
  if (fs::exists(exact, ec)) return exact;
  int best = -1;
  for (auto it = fs::directory_iterator("/usr/lib/postgresql", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    int major = std::atoi(it->path().filename().c_str());
    if (major > best && fs::exists(it->path() / "bin" / name, ec)) best = major;
  }
  if (best >= 0) return "/usr/lib/postgresql/" + std::to_string(best) + "/bin/" + name;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw Error(ErrorCode::kConfig, "cannot find the PostgreSQL program '" + name +
                                      "' (install postgresql-client or set DHANBAK_PG_BINDIR)");
}

}  // namespace dhanbak
