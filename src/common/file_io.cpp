#include "common/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

[[noreturn]] void ThrowFileIo(const std::string& what, const std::string& path, int err) {
  throw Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, what + " '" + path + "': " + ErrnoMessage(err));
}

class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

std::string ReadFileBytes(const std::string& path) {
  OwnedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) ThrowFileIo("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) ThrowFileIo("cannot stat", path, errno);
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowFileIo("cannot read", path, errno);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

std::optional<std::string> ReadFileIfExists(const std::string& path) {
  try {
    return ReadFileBytes(path);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;
    throw;
  }
}

void WriteFileAtomically(const std::string& path, std::string_view data, unsigned mode, bool durable) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  OwnedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) ThrowFileIo("cannot create", tmp, errno);
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmp.c_str());
    ThrowFileIo(what, tmp, err);
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) fail("cannot set the mode of");
  if (durable && ::fsync(fd.get()) != 0) fail("cannot fsync");
  if (::close(fd.release()) != 0) fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename into place");
  if (durable) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    OwnedFd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) ThrowFileIo("cannot fsync directory", dir, errno);
  }
}

}  // namespace dhanbak
