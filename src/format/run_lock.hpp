// RunLock — a lock object `locks/<id>` in the repository itself, held by every backup while it
// runs. Local flock(2) locks only see runs on the same machine; this one is seen by a prune run
// anywhere, so that prune never deletes chunks a running backup has decided to reuse. A lock
// older than kStaleAfter, or left on this host by a process that no longer runs, is abandoned;
// one overwritten with a "released" marker (a key without deleteFiles cannot remove it) is
// finished. Prune deletes both kinds.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "dhanbak/storage/storage.hpp"

namespace dhanbak::format {

constexpr std::chrono::hours kRunLockStaleAfter{24};

class RunLock {
 public:
  RunLock(storage::Storage& storage, const std::string& command);
  ~RunLock();  // removes the lock object (best effort)
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  storage::Storage& storage_;
  std::string name_;
};

struct HeldLock {
  std::string name;
  std::string description;  // "backup on host db1 (pid 1234) since 2024-01-15T02:00:00Z"
  bool stale = false;
  std::string reason;  // why it is stale
};

std::vector<HeldLock> ListRunLocks(storage::Storage& storage);

}  // namespace dhanbak::format
