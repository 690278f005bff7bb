#include "cli/cli.hpp"

int main(int argc, char** argv) { return dhanbak::cli::Main(argc, argv); }
