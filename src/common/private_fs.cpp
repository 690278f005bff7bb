#include "common/private_fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace dhanbak {

void CreatePrivateDirectories(const std::string& dir, ErrorCode code, const std::string& what) {
  namespace fs = std::filesystem;
  fs::path p(dir);
  if (p.empty()) return;
  struct stat st {};
  if (::stat(p.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error(code, what + ": " + p.string() + " is not a directory");
    return;
  }
  if (p.has_parent_path() && p.parent_path() != p) CreatePrivateDirectories(p.parent_path().string(), code, what);
  if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(code, what + ": cannot create directory " + p.string() + ": " + ErrnoMessage(errno));
  }
}

void MakePrivateFile(const std::string& path, bool create, ErrorCode code, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    if (!create && errno == ENOENT) return;
    throw Error(code, what + ": cannot open " + path + ": " + ErrnoMessage(errno));
  }
  struct stat st {};
  int rc = ::fstat(fd, &st);
  if (rc == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) rc = ::fchmod(fd, st.st_mode & 0700);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw Error(code, what + ": cannot make " + path + " private: " + ErrnoMessage(err));
}

}  // namespace dhanbak
