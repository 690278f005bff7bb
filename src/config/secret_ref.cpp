// SecretRef::Resolve — reads `env:NAME` and `file:PATH` secrets on demand.
//
// Messages name the reference (origin, variable, path) and never the secret itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

std::string LowerErrno(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Closes the descriptor on every path out of ReadSecretFile.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string ReadSecretFile(const std::string& where, const std::string& path) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    int err = errno;
    if (err == ENOENT) throw Error(ErrorCode::kConfig, where + ": secret file " + path + " does not exist");
    throw Error(ErrorCode::kConfig, where + ": cannot open secret file " + path + ": " + LowerErrno(err));
  }
  // fstat on the open descriptor, so the file checked is the file read.
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) {
    throw Error(ErrorCode::kConfig, where + ": cannot stat secret file " + path + ": " + LowerErrno(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kConfig, where + ": secret file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    throw Error(ErrorCode::kConfig, where + ": refusing secret file " + path +
                                        ": it is accessible by group or others (mode " +
                                        ModeString(st.st_mode) + "); run chmod 600 " + path);
  }
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(file.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kConfig, where + ": cannot read secret file " + path + ": " + LowerErrno(errno));
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > (1u << 20)) {
      throw Error(ErrorCode::kConfig, where + ": secret file " + path + " is larger than 1 MiB");
    }
  }
  // Editors add a final newline; it is never part of the secret.
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  if (content.empty()) throw Error(ErrorCode::kConfig, where + ": secret file " + path + " is empty");
  return content;
}

}  // namespace

std::string SecretRef::Resolve() const {
  const std::string where = origin.empty() ? std::string("secret") : origin;
  if (spec.empty()) throw Error(ErrorCode::kConfig, where + ": no value configured");
  if (spec.rfind("env:", 0) == 0) {
    std::string name = spec.substr(4);
    if (name.empty()) throw Error(ErrorCode::kConfig, where + ": empty environment variable name");
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      throw Error(ErrorCode::kConfig, where + ": environment variable " + name + " is not set");
    }
    if (*value == '\0') {
      throw Error(ErrorCode::kConfig, where + ": environment variable " + name + " is empty");
    }
    return value;
  }
  if (spec.rfind("file:", 0) == 0) {
    std::string path = spec.substr(5);
    if (path.empty()) throw Error(ErrorCode::kConfig, where + ": empty secret file path");
    return ReadSecretFile(where, path);
  }
  return spec;
}

}  // namespace dhanbak
