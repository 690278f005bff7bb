// RunLock — lock objects `locks/<id>` in the repository itself, seen by runs on every host (local
// flock(2) locks only see this machine). Backups hold shared locks, prune an exclusive one.
//
// The protocol (argued in docs/decisions.md, "Prune and backups on many hosts"):
//  1. write the own lock, then list locks/ (storage listings are consistent after a write, so of
//     two runs that both write before listing, each sees the other);
//  2. a conflicting live lock means back off: remove the own lock; prune then fails (exit 4),
//     a backup waits for the prune to end and starts over at 1;
//  3. a heartbeat thread rewrites the lock every `refresh`; a lock not rewritten for `stale`
//     (judged by the storage's own clock: the lock's upload time against the judge's own lock's
//     upload time, never two hosts' clocks), or left on this host by a dead process, is
//     abandoned: prune removes it before it deletes anything;
//  4. a holder that may have been judged abandoned (its lock vanished, or its heartbeat fell
//     behind) is no longer protected: Intact() says so, and the holder must take the lock again
//     (Reacquire) and re-check what it relies on before acting on it.
// A lock is never a retained object: under Object Lock its versions may outlive it, so release
// overwrites it with a "released" marker when it cannot be removed, and prune tolerates both.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dhanbak/storage/storage.hpp"

namespace dhanbak::format {

struct LockTiming {
  std::chrono::seconds refresh{300};   // heartbeat period
  std::chrono::seconds stale{1800};    // not refreshed for this long = abandoned
  std::chrono::seconds max_wait{7200}; // how long a backup waits for a running prune

  // The defaults, or (for tests that must force every interleaving in seconds) the heartbeat
  // period from DHANBAK_TEST_LOCK_REFRESH_SECONDS with stale = 6 × and max_wait = 30 × it.
  static LockTiming FromEnvironment();
};

enum class LockKind { kShared, kExclusive };

struct HeldLock {
  std::string name;
  std::string command;      // "backup", "prune"
  std::string description;  // "backup on host db1 (pid 1234)"
  bool exclusive = false;
  bool stale = false;
  std::string reason;  // why it is stale: "released", "its process no longer runs on this host", ...
};

// Every lock in the repository; `now_unix` is the storage's current time (see RunLock), 0 = this
// machine's clock. Unreadable locks are live (a lock is never ignored because it is damaged).
std::vector<HeldLock> ListRunLocks(storage::Storage& storage, int64_t now_unix, std::chrono::seconds stale);

class RunLock {
 public:
  // Takes the lock by the protocol above. An exclusive lock throws Error(kLocked) naming every
  // live holder; a shared one waits up to timing.max_wait for exclusive holders, then throws.
  RunLock(storage::Storage& storage, std::string command, LockKind kind, LockTiming timing = LockTiming::FromEnvironment());
  ~RunLock();  // stops the heartbeat and removes the lock (best effort)
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // True when no other run can have judged this lock abandoned since it was (re)taken: the
  // heartbeat never found it gone, it is still in storage, and it was refreshed less than
  // stale − 2 × refresh ago.
  bool Intact();
  // Takes the lock again after it was lost, by the full protocol (waiting out a prune).
  void Reacquire();
  // Throws Error(kLocked) when the lock is not Intact(): for prune before each deletion.
  void ThrowIfLost(const std::string& doing);
  // Stale locks of other runs seen at the last acquisition (prune removes them).
  const std::vector<HeldLock>& abandoned() const { return abandoned_; }
  const std::string& name() const { return name_; }

 private:
  void Acquire();
  void Write();
  void Release();  // remove, or overwrite with a "released" marker when removal is refused
  void Heartbeat();
  bool FreshEnough() const;

  storage::Storage& storage_;
  std::string command_;
  LockKind kind_;
  LockTiming timing_;
  std::string name_;
  std::vector<HeldLock> abandoned_;
  std::atomic<bool> lost_{false};
  std::atomic<int64_t> refreshed_ms_{0};  // steady clock, last successful write
  std::mutex write_mu_;  // one writer of the lock object at a time (heartbeat or Reacquire)
  std::mutex mu_;        // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread heartbeat_;
};

}  // namespace dhanbak::format
