#include "cli/cli.hpp"

#include <iostream>

namespace dhanbak::cli {
int Main(int, char**) {
  std::cerr << "dhanbak: under construction\n";
  return 2;
}
}  // namespace dhanbak::cli
