#include "format/run_lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "common/host_name.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/test_pause.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"

namespace dhanbak::format {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Holders(const std::vector<HeldLock>& locks) {
  std::string out;
  for (const auto& l : locks) out += (out.empty() ? "" : "; ") + l.description + " (" + l.name + ")";
  return out;
}

// Sleeps up to `d`, waking early for a signal.
void InterruptibleSleep(std::chrono::seconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    ThrowIfInterrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

LockTiming LockTiming::FromEnvironment() {
  LockTiming t;
  if (const char* v = std::getenv("DHANBAK_TEST_LOCK_REFRESH_SECONDS"); v != nullptr && std::atoi(v) > 0) {
    t.refresh = std::chrono::seconds(std::atoi(v));
    t.stale = 6 * t.refresh;
    t.max_wait = 30 * t.refresh;
  }
  return t;
}

std::vector<HeldLock> ListRunLocks(storage::Storage& storage, int64_t now_unix, std::chrono::seconds stale) {
  std::vector<HeldLock> locks;
  if (now_unix == 0) now_unix = std::time(nullptr);
  storage.List("locks/", [&](const storage::ObjectInfo& o) {
    HeldLock h;
    h.name = o.name;
    try {
      auto j = nlohmann::json::parse(storage.Get(o.name));
      if (j.value("released", false)) {
        h.description = "released lock";
        h.stale = true;
        h.reason = "released";
        locks.push_back(h);
        return;
      }
      h.command = j.value("command", std::string("run"));
      h.exclusive = j.value("exclusive", h.command == "prune");
      h.description = h.command + " on host " + j.value("host", std::string("?")) + " (pid " +
                      std::to_string(j.value("pid", 0)) + ")";
      // A lock left by a crashed run on this very machine is abandoned at once.
      int pid = j.value("pid", 0);
      if (j.value("host", std::string()) == HostName() && pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
        h.stale = true;
        h.reason = "its process no longer runs on this host";
      }
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return;  // released between the listing and the read
      if (e.code() == ErrorCode::kInterrupted) throw;
      h.description = "run (unreadable lock: " + std::string(e.what()) + ")";
      h.exclusive = true;  // unknown: assume the worst
    } catch (const std::exception&) {
      h.description = "run (malformed lock)";
      h.exclusive = true;
    }
    // The upload time is the storage's clock, as is now_unix: no two hosts' clocks compared.
    if (!h.stale && o.modified_unix > 0 && now_unix - o.modified_unix > stale.count()) {
      h.stale = true;
      const int64_t age = now_unix - o.modified_unix;
      h.reason = "not refreshed for " + (age < 120 ? std::to_string(age) + " seconds" : std::to_string(age / 60) + " minutes");
    }
    locks.push_back(h);
  });
  return locks;
}

RunLock::RunLock(storage::Storage& storage, std::string command, LockKind kind, LockTiming timing)
    : storage_(storage), command_(std::move(command)), kind_(kind), timing_(timing),
      name_("locks/" + HexEncode(crypto::RandomBytes(8))) {
  Acquire();
  heartbeat_ = std::thread([this] { Heartbeat(); });
}

RunLock::~RunLock() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  Release();
}

void RunLock::Release() {
  try {
    storage_.Remove(name_);
    return;
  } catch (const std::exception&) {
    // An append-only key (no deleteFiles), or a bucket whose default retention locked the lock's
    // versions, cannot remove it: a released marker instead, which every run treats as gone.
  }
  try {
    storage_.Put(name_, nlohmann::json{{"released", true}, {"released_at", std::time(nullptr)}}.dump());
  } catch (const std::exception& e) {
    log::Warning("could not release the repository lock " + name_ + ": " + e.what());
  }
}

void RunLock::Write() {
  nlohmann::json j{{"command", command_},
                   {"exclusive", kind_ == LockKind::kExclusive},
                   {"host", HostName()},
                   {"pid", getpid()},
                   {"refreshed", std::time(nullptr)}};
  storage_.Put(name_, j.dump());
  refreshed_ms_ = SteadyMs();
}

void RunLock::Acquire() {
  const auto give_up = std::chrono::steady_clock::now() + timing_.max_wait;
  bool said_waiting = false;
  for (;;) {
    Write();
    TestPausePoint("lock-written");
    // Our own lock's upload time is the storage's "now" (B2 stamps uploads with its own clock).
    auto own = storage_.Stat(name_);
    int64_t now = own ? own->modified_unix : 0;
    std::vector<HeldLock> conflicts;
    abandoned_.clear();
    for (auto& l : ListRunLocks(storage_, now, timing_.stale)) {
      if (l.name == name_) continue;
      if (l.stale) {
        abandoned_.push_back(std::move(l));
      } else if (kind_ == LockKind::kExclusive || l.exclusive) {
        conflicts.push_back(std::move(l));
      }
    }
    TestPausePoint("lock-listed");
    if (conflicts.empty()) {
      lost_ = false;
      return;
    }
    Release();
    if (kind_ == LockKind::kExclusive) {
      throw Error(ErrorCode::kLocked, "the repository is in use by " + Holders(conflicts) + "; " + command_ +
                                          " runs when no backup or prune is running");
    }
    if (std::chrono::steady_clock::now() >= give_up) {
      throw Error(ErrorCode::kLocked, "gave up waiting " + std::to_string(timing_.max_wait.count() / 60) +
                                          " minutes for " + Holders(conflicts) + " to finish");
    }
    if (!said_waiting) {
      log::Info("waiting for " + Holders(conflicts) + " to finish before starting the " + command_);
      said_waiting = true;
    }
    InterruptibleSleep(std::min(timing_.refresh, std::chrono::seconds(10)));
  }
}

void RunLock::Heartbeat() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, timing_.refresh, [this] { return stop_; })) {
    lock.unlock();
    try {
      std::lock_guard<std::mutex> writing(write_mu_);
      if (!storage_.Stat(name_)) {
        // Removed by a run that judged us abandoned: whatever it deleted meanwhile is not
        // protected by this lock, and rewriting it now does not change that.
        if (!lost_.exchange(true)) {
          log::Warning("the repository lock " + name_ + " was removed by another run that judged it abandoned");
        }
      }
      Write();
    } catch (const std::exception& e) {
      log::Warning("could not refresh the repository lock " + name_ + ": " + e.what());
    }
    lock.lock();
  }
}

bool RunLock::FreshEnough() const {
  return SteadyMs() - refreshed_ms_.load() < 1000 * (timing_.stale - 2 * timing_.refresh).count();
}

bool RunLock::Intact() {
  if (lost_ || !FreshEnough()) return false;
  try {
    if (storage_.Stat(name_)) return true;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    log::Warning("cannot check the repository lock " + name_ + ": " + e.what());
    return false;
  }
  lost_ = true;
  log::Warning("the repository lock " + name_ + " was removed by another run that judged it abandoned");
  return false;
}

void RunLock::Reacquire() {
  std::lock_guard<std::mutex> writing(write_mu_);  // no heartbeat write in between
  Acquire();
}

void RunLock::ThrowIfLost(const std::string& doing) {
  if (lost_ || !FreshEnough()) {
    throw Error(ErrorCode::kLocked, "stopped before " + doing + ": the repository lock " + name_ +
                                        " could not be kept fresh, so another run may already treat it as abandoned");
  }
}

}  // namespace dhanbak::format
