#include "common/temp_dir.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "dhanbak/error.hpp"

namespace dhanbak {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/dhanbak-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create a temporary directory '" + tmpl + "': " + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace dhanbak
