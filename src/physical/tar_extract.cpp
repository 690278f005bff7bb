#include "physical/tar_extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "dhanbak/error.hpp"

namespace dhanbak::physical {
namespace {

constexpr size_t kBlock = 512;

std::string Field(const std::string& h, size_t offset, size_t len) {
  std::string s = h.substr(offset, len);
  size_t nul = s.find('\0');
  return nul == std::string::npos ? s : s.substr(0, nul);
}

// Octal, or (for sizes of 8 GiB and more) GNU base-256 with the high bit of the first byte set.
uint64_t Number(const std::string& h, size_t offset, size_t len) {
  auto first = static_cast<unsigned char>(h[offset]);
  uint64_t v = 0;
  if (first & 0x80) {
    v = first & 0x7f;
    for (size_t i = 1; i < len; ++i) v = (v << 8) | static_cast<unsigned char>(h[offset + i]);
    return v;
  }
  for (size_t i = 0; i < len; ++i) {
    char c = h[offset + i];
    if (c == ' ' || c == '\0') {
      if (v == 0) continue;  // leading blanks
      break;
    }
    if (c < '0' || c > '7') throw Error(ErrorCode::kCorruption, "malformed tar header in a base backup archive");
    v = v * 8 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool SafeRelative(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : std::filesystem::path(name)) {
    if (part == "..") return false;
  }
  return true;
}

[[noreturn]] void IoFailure(const std::string& what, const std::string& path) {
  throw Error(ErrorCode::kIo, "cannot " + what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

TarExtractor::TarExtractor(std::string root, LinkMapper map_link)
    : root_(std::move(root)), map_link_(std::move(map_link)) {}

TarExtractor::~TarExtractor() {
  if (fd_ >= 0) ::close(fd_);
}

void TarExtractor::Write(std::string_view data) {
  while (!data.empty()) {
    if (remaining_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
      if (fd_ >= 0) {
        for (size_t done = 0; done < n;) {
          ssize_t w = ::write(fd_, data.data() + done, n - done);
          if (w < 0) {
            if (errno == EINTR) continue;
            IoFailure("write", root_ + "/" + current_);
          }
          done += static_cast<size_t>(w);
        }
      }
      bytes_ += static_cast<int64_t>(n);
      remaining_ -= n;
      data.remove_prefix(n);
      if (remaining_ == 0) CloseFile();
      continue;
    }
    if (padding_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(padding_, data.size()));
      padding_ -= n;
      data.remove_prefix(n);
      continue;
    }
    size_t n = std::min(kBlock - header_.size(), data.size());
    header_.append(data.data(), n);
    data.remove_prefix(n);
    if (header_.size() == kBlock) {
      OnHeader();
      header_.clear();
    }
  }
}

void TarExtractor::OnHeader() {
  if (header_.find_first_not_of('\0') == std::string::npos) {
    ended_ = true;  // the archive's trailer
    return;
  }
  if (ended_) throw Error(ErrorCode::kCorruption, "a base backup archive continues after its end");
  std::string name = Field(header_, 0, 100);
  std::string prefix = Field(header_, 345, 155);
  if (!prefix.empty() && header_.compare(257, 5, "ustar") == 0) name = prefix + "/" + name;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  if (!SafeRelative(name)) {
    throw Error(ErrorCode::kCorruption, "a base backup archive holds an entry outside its directory: '" + name + "'");
  }
  const char type = header_[156];
  const uint64_t size = Number(header_, 124, 12);
  const mode_t mode = static_cast<mode_t>(Number(header_, 100, 8) & 07777);
  const std::string path = root_ + "/" + name;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create the directory of " + path + ": " + ec.message());
  current_ = name;
  remaining_ = 0;
  switch (type) {
    case '0':
    case '\0':
    case '7':
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode == 0 ? 0600 : mode);
      if (fd_ < 0) IoFailure("create", path);
      ++files_;
      remaining_ = size;
      padding_ = (kBlock - size % kBlock) % kBlock;
      if (size == 0) CloseFile();
      return;
    case '5':
      if (::mkdir(path.c_str(), mode == 0 ? 0700 : mode) != 0 && errno != EEXIST) IoFailure("create", path);
      return;
    case '2': {
      std::string target = map_link_(name, Field(header_, 157, 100));
      if (::symlink(target.c_str(), path.c_str()) != 0) IoFailure("create the symbolic link", path);
      return;
    }
    default:
      throw Error(ErrorCode::kCorruption, std::string("a base backup archive holds an entry of unsupported type '") +
                                              type + "': " + name);
  }
}

void TarExtractor::CloseFile() {
  if (fd_ < 0) return;
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) IoFailure("write", root_ + "/" + current_);
}

void TarExtractor::Finish() {
  if (remaining_ > 0 || padding_ > 0 || !header_.empty()) {
    throw Error(ErrorCode::kCorruption, "a base backup archive ends in the middle of " +
                                            (current_.empty() ? std::string("a header") : current_));
  }
  CloseFile();
}

void SyncTree(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) IoFailure("open", dir);
  bool ok = ::syncfs(fd) == 0 && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok) IoFailure("sync", dir);
}

}  // namespace dhanbak::physical
