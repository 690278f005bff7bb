// The integration harness runs the dhanbak of the build whose tests these are. scripts/test.sh
// runs the Release build's harness a second time against the sanitized dhanbak (DHANBAK_TEST_BINARY,
// set by CTest): if that wiring broke, the sanitized pass would quietly test the Release binary
// again. CTest tells this test which kind of binary it must find (DHANBAK_TEST_EXPECT_SANITIZED).
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "support/build_under_test.hpp"
#include "support/process.hpp"

namespace build_under_test_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

TEST_CASE("the harness runs this build's dhanbak: instrumented in the sanitized build, not in Release") {
  const char* expect = std::getenv("DHANBAK_TEST_EXPECT_SANITIZED");
  REQUIRE_MESSAGE(expect != nullptr, "run this test through CTest, which says which build it checks");
  // An AddressSanitizer runtime lists its flags on stderr for ASAN_OPTIONS=help=1; a binary
  // without one ignores the variable.
  ProcessOptions options;
  options.env = {{"ASAN_OPTIONS", "help=1"}};
  ProcessResult r = RunProcess({DhanbakBinary(), "--version"}, options);
  REQUIRE_MESSAGE(r.exit_code == 0, DhanbakBinary() << ": " << r.err);
  const bool instrumented = r.err.find("Available flags for AddressSanitizer") != std::string::npos;
  const bool expected = std::string(expect) == "1";
  const std::string found = instrumented ? "an instrumented binary" : "a Release binary";
  const std::string wanted = expected ? "an instrumented binary" : "a Release binary";
  CHECK_MESSAGE(instrumented == expected, (DhanbakBinary() + " is " + found + "; this build's tests need " + wanted));
}

}  // namespace build_under_test_test
