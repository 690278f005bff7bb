#include "command/scratch_area.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "command/recovery_server.hpp"
#include "common/log.hpp"
#include "common/private_fs.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::command {
namespace {

namespace fs = std::filesystem;

constexpr char kLockName[] = "lock";
constexpr char kNamePrefix[] = "pitr-";

// A run creates its directory, then its lock file a moment later: a directory without one is
// only taken for abandoned once it is older than this.
constexpr auto kLocklessGrace = std::chrono::minutes(1);

// Whether nobody holds the lock of scratch directory `dir` (its run is gone).
bool Abandoned(const std::string& dir) {
  const std::string lock = dir + "/" + kLockName;
  int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) return false;
    std::error_code ec;  // killed before it even took the lock, or just starting
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(dir, ec);
    return !ec && age > kLocklessGrace;
  }
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace

ScratchArea::ScratchArea(const std::string& root, const std::string& name) {
  CreatePrivateDirectories(root, ErrorCode::kIo, "[pitr] scratch_dir " + root);
  path_ = root + "/" + kNamePrefix + name;
  if (::mkdir(path_.c_str(), 0700) != 0) {
    throw Error(ErrorCode::kIo, "cannot create scratch directory " + path_ + ": " + std::strerror(errno));
  }
  const std::string lock = path_ + "/" + kLockName;
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string why = std::strerror(errno);
    std::error_code ec;
    fs::remove_all(path_, ec);
    throw Error(ErrorCode::kIo, "cannot lock scratch directory " + path_ + ": " + why);
  }
  std::string me = "pid " + std::to_string(::getpid()) + "\n";
  (void)!::write(lock_fd_, me.data(), me.size());
}

ScratchArea::~ScratchArea() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (ec) log::Warning("could not remove scratch directory " + path_ + ": " + ec.message());
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::vector<std::string> FindScratchLeftovers(const std::string& root) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code dir_ec;
    if (!name.starts_with(kNamePrefix) || !it->is_directory(dir_ec)) continue;
    if (Abandoned(it->path().string())) found.push_back(it->path().string());
  }
  return found;
}

int RemoveScratchLeftovers(const std::string& root) {
  int removed = 0;
  for (const auto& dir : FindScratchLeftovers(root)) {
    log::Warning("removing " + dir + ", left by a point-in-time restore that was killed");
    StopOrphanedServer(dir + "/pgdata");
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) {
      log::Warning("could not remove " + dir + ": " + ec.message());
    } else {
      ++removed;
    }
  }
  return removed;
}

void CheckScratchSpace(const std::string& root, uint64_t needed, const std::string& what) {
  struct statvfs st {};
  if (::statvfs(root.c_str(), &st) != 0) {
    throw Error(ErrorCode::kIo, "cannot read the free space of " + root + ": " + std::strerror(errno));
  }
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (free_bytes < needed) {
    throw Error(ErrorCode::kIo, "[pitr] scratch_dir " + root + " has " + log::FormatBytes(static_cast<double>(free_bytes)) +
                                    " free, but " + what + " needs about " +
                                    log::FormatBytes(static_cast<double>(needed)) +
                                    ": free space there or point scratch_dir at a larger file system; nothing was written");
  }
}

}  // namespace dhanbak::command
