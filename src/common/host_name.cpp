#include "common/host_name.hpp"

#include <unistd.h>

namespace dhanbak {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace dhanbak
