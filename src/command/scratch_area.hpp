// ScratchArea — a directory of its own under [pitr] scratch_dir where one point-in-time restore
// replays the cluster (restored files, tablespaces, the copy-out's repository). The run holds
// an flock on `<dir>/lock` for its whole life; a directory whose lock nobody holds belongs to a
// run that was killed (SIGKILL, reboot): the next run, and `status`, find it. Removed with its
// contents when the object goes away (success, error, SIGINT/SIGTERM, which unwind).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dhanbak::command {

class ScratchArea {
 public:
  // Creates `root` (0700) when missing and `root/<name>`; takes the lock.
  ScratchArea(const std::string& root, const std::string& name);
  ~ScratchArea();
  ScratchArea(const ScratchArea&) = delete;
  ScratchArea& operator=(const ScratchArea&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int lock_fd_ = -1;
};

// Directories under `root` left by killed runs (nobody holds their lock).
std::vector<std::string> FindScratchLeftovers(const std::string& root);

// Stops a server a killed run left running on a leftover and removes it; returns how many.
int RemoveScratchLeftovers(const std::string& root);

// Throws Error(kIo) before anything is written when the file system of `root` has less than
// `needed` bytes free, saying how much it has and what needs the space.
void CheckScratchSpace(const std::string& root, uint64_t needed, const std::string& what);

}  // namespace dhanbak::command
