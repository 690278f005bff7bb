#include "common/detached_worker.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>

#include "common/log.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

// Worker logs are kept short: a log past this size is emptied when the next worker starts.
constexpr off_t kMaxLogBytes = 4 << 20;

void WritePid(int fd) {
  std::string me = "pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, me.data(), me.size(), 0);
}

}  // namespace

bool StartDetachedWorker(const std::string& lock_path, const std::string& log_path, const std::function<int()>& work) {
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) throw Error(ErrorCode::kIo, "cannot open " + lock_path + ": " + ErrnoMessage(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return false;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(lock_fd);
    throw Error(ErrorCode::kIo, "cannot start a background worker: " + ErrnoMessage(err));
  }
  if (pid > 0) {
    ::close(lock_fd);  // the child's copy keeps the lock
    return true;
  }
  ::setsid();
  WritePid(lock_fd);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st {};
  if (log_fd >= 0 && ::fstat(log_fd, &st) == 0 && st.st_size > kMaxLogBytes) (void)!::ftruncate(log_fd, 0);
  if (null_fd >= 0) ::dup2(null_fd, 0);
  if (log_fd >= 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
  }
  int rc = 1;
  try {
    rc = work();
  } catch (const std::exception& e) {
    log::Error(std::string("background worker: ") + e.what());
  }
  std::fflush(nullptr);
  ::_exit(rc);
}

int DetachedWorkerPid(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    char buf[32] = {};
    if (::pread(fd, buf, sizeof buf - 1, 0) > 4) pid = std::atoi(buf + 4);
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return pid;
}

}  // namespace dhanbak
