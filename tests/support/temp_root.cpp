#include "support/temp_root.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dhanbak::test {

std::string TestTempRoot() {
  const char* root = std::getenv("DHANBAK_TEST_TMPDIR");
  return root != nullptr && *root != '\0' ? root : "/tmp";
}

std::string MakeTestTempDir(const std::string& prefix) {
  std::string path = TestTempRoot() + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + path + ": " + std::strerror(errno));
  }
  return path;
}

}  // namespace dhanbak::test
