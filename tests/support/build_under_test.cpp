#include "support/build_under_test.hpp"

#include <cstdlib>

namespace dhanbak::test {
namespace {

std::string FromEnvironment(const char* name, const char* built_in) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : built_in;
}

}  // namespace

const std::string& DhanbakBinary() {
  static const std::string path = FromEnvironment("DHANBAK_TEST_BINARY", DHANBAK_BINARY);
  return path;
}

const std::string& BuildDirUnderTest() {
  static const std::string path = FromEnvironment("DHANBAK_TEST_BUILD_DIR", DHANBAK_BUILD_DIR);
  return path;
}

}  // namespace dhanbak::test
