// Which build the integration tests exercise. The test binaries run the dhanbak of the build that
// compiled them, unless DHANBAK_TEST_BINARY names another: scripts/test.sh runs the Release
// build's integration harness a second time against the sanitized dhanbak (the harness is test
// code; what the sanitizers are there to check is dhanbak itself), instead of compiling the
// harness again with instrumentation.
#pragma once

#include <string>

namespace dhanbak::test {

// The dhanbak binary the tests run: DHANBAK_TEST_BINARY when set, else this build's.
const std::string& DhanbakBinary();

// The build directory of that binary (where package_test finds CPackConfig.cmake):
// DHANBAK_TEST_BUILD_DIR when set, else this build's.
const std::string& BuildDirUnderTest();

}  // namespace dhanbak::test
