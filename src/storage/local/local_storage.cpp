#include "storage/local/local_storage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/encoding.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"

namespace dhanbak::storage {
namespace fs = std::filesystem;
namespace {

constexpr char kTempPrefix[] = ".tmp-";

[[noreturn]] void ThrowErrno(const std::string& what, const std::string& path) {
  int e = errno;
  // Disk full is the commonest I/O failure in backups: say it plainly.
  std::string hint = (e == ENOSPC) ? " (the disk is full)" : "";
  throw Error(ErrorCode::kIo, what + " '" + path + "': " + std::strerror(e) + hint);
}

void WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowErrno("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) ThrowErrno("cannot fsync directory", dir);
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view seg(name.data() + start, end - start);
    if (seg.empty() || seg == "." || seg == ".." || seg.starts_with(kTempPrefix)) return false;
    start = end + 1;
  }
  return name.find('\0') == std::string::npos;
}

}  // namespace

LocalStorage::LocalStorage(std::string root_dir) : root_(std::move(root_dir)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalStorage::PathOf(const std::string& name) const {
  if (!ValidName(name)) throw Error(ErrorCode::kInvalidArgument, "invalid object name '" + name + "'");
  return root_ + "/" + name;
}

// Creates the missing directories between the root and `name`'s parent, fsyncing each parent so
// that the new entry survives a crash. The root itself is never created here: a repository whose
// directory vanished mid-run (an unmounted disk, an operator's mv) must fail loudly, not fill a new
// empty directory that nobody can restore from.
void LocalStorage::MakeParents(const std::string& name) const {
  struct stat st {};
  if (::stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ErrorCode::kIo, "the repository directory '" + root_ +
                                    "' is gone (removed, moved or unmounted); nothing was written");
  }
  std::string dir = root_;
  size_t start = 0;
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', start)) {
    std::string parent = dir;
    dir = root_ + "/" + name.substr(0, slash);
    start = slash + 1;
    if (::mkdir(dir.c_str(), 0700) == 0) {
      FsyncDir(parent);
    } else if (errno != EEXIST) {
      ThrowErrno("cannot create directory", dir);
    }
  }
}

void LocalStorage::Put(const std::string& name, std::string_view data) {
  std::string path = PathOf(name);
  std::string dir = fs::path(path).parent_path().string();
  MakeParents(name);
  std::string tmp = dir + "/" + kTempPrefix + HexEncode(crypto::RandomBytes(8));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) ThrowErrno("cannot create", tmp);
  try {
    WriteAll(fd, data, tmp);
    if (::fsync(fd) != 0) ThrowErrno("cannot fsync", tmp);
    if (::close(fd) != 0) {
      fd = -1;
      ThrowErrno("cannot close", tmp);
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) ThrowErrno("cannot rename into", path);
    FsyncDir(dir);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

std::string LocalStorage::Get(const std::string& name, std::optional<ByteRange> range) {
  std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw Error(ErrorCode::kNotFound, "object '" + name + "' not found in " + Describe());
    ThrowErrno("cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    ThrowErrno("cannot stat", path);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t offset = 0, length = size;
  if (range) {
    if (range->offset >= size && !(range->offset == 0 && size == 0)) {
      ::close(fd);
      throw Error(ErrorCode::kInvalidArgument, "range starts past the end of object '" + name + "'");
    }
    offset = range->offset;
    length = std::min<uint64_t>(range->length, size - offset);
  }
  std::string out(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ThrowErrno("cannot read", path);
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

std::optional<ObjectInfo> LocalStorage::Stat(const std::string& name) {
  std::string path = PathOf(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    ThrowErrno("cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return ObjectInfo{name, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtime)};
}

void LocalStorage::List(const std::string& prefix, const std::function<void(const ObjectInfo&)>& fn) {
  // Walk only the deepest directory the prefix names, then filter by the full prefix.
  std::string dir_part = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  std::string start = dir_part.empty() ? root_ : root_ + "/" + dir_part;
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return;
  std::vector<ObjectInfo> found;
  for (auto it = fs::recursive_directory_iterator(start, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string rel = it->path().string().substr(root_.size() + 1);
    if (it->path().filename().string().starts_with(kTempPrefix)) continue;
    if (!rel.starts_with(prefix)) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;  // removed meanwhile
    found.push_back(ObjectInfo{rel, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtime)});
  }
  if (ec) throw Error(ErrorCode::kIo, "cannot list '" + start + "': " + ec.message());
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& o : found) fn(o);
}

void LocalStorage::ListVersions(const std::string& prefix,
                                const std::function<void(const std::string& name, const ObjectVersion&)>& fn) {
  List(prefix, [&](const ObjectInfo& o) { fn(o.name, ObjectVersion{kCurrentVersion, o.size, o.modified_unix, false}); });
}

std::string LocalStorage::GetVersion(const std::string& name, const std::string& version_id) {
  if (version_id != kCurrentVersion) {
    throw Error(ErrorCode::kNotFound, "version '" + version_id + "' of object '" + name + "' not found in " + Describe());
  }
  return Get(name, std::nullopt);
}

void LocalStorage::Remove(const std::string& name) {
  std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("cannot remove", path);
}

}  // namespace dhanbak::storage
