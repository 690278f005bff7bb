// TempDir — a private (0700) temporary directory under $TMPDIR (default /tmp), removed with
// its contents when the object goes away. Holds only small files (schema archives, scripts).
#pragma once

#include <string>

namespace dhanbak {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace dhanbak
