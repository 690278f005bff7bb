#include "format/run_lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "common/host_name.hpp"
#include "common/log.hpp"
#include "format/crypto.hpp"

namespace dhanbak::format {

RunLock::RunLock(storage::Storage& storage, const std::string& command)
    : storage_(storage), name_("locks/" + HexEncode(crypto::RandomBytes(8))) {
  nlohmann::json j{{"command", command}, {"host", HostName()}, {"pid", getpid()}, {"started", std::time(nullptr)}};
  storage_.Put(name_, j.dump());
}

RunLock::~RunLock() {
  try {
    storage_.Remove(name_);
    return;
  } catch (const std::exception&) {
    // An append-only key (no deleteFiles) cannot remove the lock: overwrite it with a released
    // marker instead, which prune treats as gone and deletes with its own key.
  }
  try {
    storage_.Put(name_, nlohmann::json{{"released", true}, {"released_at", std::time(nullptr)}}.dump());
  } catch (const std::exception& e) {
    log::Warning("could not release the repository lock " + name_ + ": " + e.what());
  }
}

std::vector<HeldLock> ListRunLocks(storage::Storage& storage) {
  std::vector<HeldLock> locks;
  int64_t now = std::time(nullptr);
  storage.List("locks/", [&](const storage::ObjectInfo& o) {
    HeldLock h;
    h.name = o.name;
    int64_t started = o.modified_unix;
    bool dead_here = false;
    try {
      auto j = nlohmann::json::parse(storage.Get(o.name));
      started = j.value("started", started);
      if (j.value("released", false)) {
        h.description = "released lock";
        h.stale = true;
        h.reason = "released";
        locks.push_back(h);
        return;
      }
      // A lock left by a crashed run on this very machine is stale at once.
      int pid = j.value("pid", 0);
      dead_here = j.value("host", std::string()) == HostName() && pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
      h.description = j.value("command", std::string("run")) + " on host " + j.value("host", std::string("?")) +
                      " (pid " + std::to_string(j.value("pid", 0)) + ")";
    } catch (const std::exception&) {
      h.description = "run (unreadable lock " + o.name + ")";
    }
    h.reason = dead_here ? "its process no longer runs on this host" : "older than 24 hours";
    h.stale = dead_here || (started > 0 && now - started > std::chrono::duration_cast<std::chrono::seconds>(kRunLockStaleAfter).count());
    locks.push_back(h);
  });
  return locks;
}

}  // namespace dhanbak::format
