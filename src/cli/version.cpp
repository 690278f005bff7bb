// The one source compiled with DHANBAK_VERSION (see src/CMakeLists.txt), so that a version bump
// rebuilds this file alone and the rest of the CLI stays in the core's unity build.
#include "cli/cli.hpp"

namespace dhanbak::cli {

const char* Version() { return DHANBAK_VERSION; }

}  // namespace dhanbak::cli
