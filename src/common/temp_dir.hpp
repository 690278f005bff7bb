// TempDir — a private (0700) temporary directory under $TMPDIR (default /tmp), named
// dhanbak-<pid>-XXXXXX and removed with its contents when the object goes away (also on
// errors and signals, which unwind). Holds only small files (schema archives, scripts), some
// of them decrypted: directories left by a killed process are swept by the next one.
#pragma once

#include <string>

namespace dhanbak {

// Removes this user's dhanbak-<pid>-* directories whose process no longer exists. The first
// TempDir of a process calls it.
void SweepStaleTempDirs();

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
