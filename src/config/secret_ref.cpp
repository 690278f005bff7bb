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
    throw Error(ErrorCode::kConfig, where + ": cannot open secret file " + path + ": " + ErrnoMessage(err));
  }
  // fstat on the open descriptor, so the file checked is the file read.
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) {
    throw Error(ErrorCode::kConfig, where + ": cannot stat secret file " + path + ": " + ErrnoMessage(errno));
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
      throw Error(ErrorCode::kConfig, where + ": cannot read secret file " + path + ": " + ErrnoMessage(errno));
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

bool ValidEnvName(const std::string& name) {
  bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  return valid;
}

}  // namespace

std::string SecretSpecProblem(const std::string& spec) {
  if (spec.starts_with("env:")) {
    if (!ValidEnvName(spec.substr(4))) return "names an invalid environment variable; use env:NAME with letters, digits and _";
    return "";
  }
  if (spec.starts_with("file:")) {
    if (spec.size() == 5) return "has an empty file path; use file:/path/to/secret";
    if (spec[5] != '/') return "has a relative file path; use file:/absolute/path/to/secret";
    return "";
  }
  if (spec.starts_with("literal:")) {
    if (spec.size() == 8) return "has an empty literal value";
    return "";
  }
  if (spec.empty()) return "must not be empty (use env:NAME, file:PATH or literal:VALUE)";
  // Anything else: a misspelt reference (flie:, File:, ENV:, " file:") or a bare value. Both are
  // refused: silently taking "flie:/etc/dhanbak/passphrase" as the passphrase itself would lock a
  // repository with a string nobody meant.
  size_t i = 0;
  while (i < spec.size() && std::isspace(static_cast<unsigned char>(spec[i]))) ++i;
  size_t word = i;
  while (word < spec.size() && (std::isalnum(static_cast<unsigned char>(spec[word])) || spec[word] == '_' ||
                                spec[word] == '-' || spec[word] == '+' || spec[word] == '.')) {
    ++word;
  }
  if (word > i && word < spec.size() && spec[word] == ':') {
    return "looks like a secret reference but does not start exactly with env: or file: (lower case, no "
           "leading spaces); a literal value must be written literal:VALUE";
  }
  return "is neither a reference (env:NAME, file:PATH) nor an explicit literal (literal:VALUE)";
}

size_t PassphraseLength(const std::string& passphrase) {
  size_t n = 0;
  for (unsigned char c : passphrase) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

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
  if (spec.rfind("literal:", 0) == 0) return spec.substr(8);
  // Set by code, not parsed from a file (the parser refuses bare values): the value itself.
  return spec;
}

}  // namespace dhanbak
