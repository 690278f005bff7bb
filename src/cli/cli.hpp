// Command-line entry point: parses global options and the command, runs it, maps errors to
// the exit codes of the design.
#pragma once

namespace dhanbak::cli {
int Main(int argc, char** argv);
// dhanbak's version (the project's version in CMake), as `dhanbak --version` prints it.
const char* Version();
}
