#include "common/temp_dir.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/log.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

std::string TempBase() {
  const char* base = std::getenv("TMPDIR");
  return base && *base ? base : "/tmp";
}

// "dhanbak-<pid>-XXXXXX" → pid, or 0 when the name is not one of ours.
pid_t OwnerPid(const std::string& name) {
  if (!name.starts_with("dhanbak-")) return 0;
  size_t dash = name.find('-', 8);
  if (dash == std::string::npos || dash == 8 || name.size() != dash + 7) return 0;
  pid_t pid = 0;
  for (size_t i = 8; i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9' || pid > 100000000) return 0;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

}  // namespace

void SweepStaleTempDirs() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(TempBase(), ec)) {
    std::string name = entry.path().filename().string();
    pid_t pid = OwnerPid(name);
    if (pid <= 0) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    // Still running (or a process we may not signal): not stale.
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    std::filesystem::remove_all(entry.path(), rm);
    if (!rm) log::Info("removed " + entry.path().string() + ", left by an interrupted dhanbak run (pid " +
                       std::to_string(pid) + ")");
  }
}

TempDir::TempDir() {
  static std::once_flag swept;
  std::call_once(swept, SweepStaleTempDirs);
  std::string tmpl = TempBase() + "/dhanbak-" + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create a temporary directory '" + tmpl + "': " + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace dhanbak
