#include "support/paused_command.hpp"

#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace dhanbak::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void ForEachProcess(const std::function<void(pid_t, const std::string&, const std::string&)>& fn) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline, environ;
    try {
      std::ifstream cmd(entry.path() / "cmdline", std::ios::binary);
      std::ifstream env(entry.path() / "environ", std::ios::binary);
      cmdline.assign(std::istreambuf_iterator<char>(cmd), {});
      environ.assign(std::istreambuf_iterator<char>(env), {});
    } catch (const std::exception&) {
      continue;  // it exited while being read (libstdc++ throws on the ESRCH)
    }
    fn(static_cast<pid_t>(std::stol(name)), cmdline, environ);
  }
}

bool AnyProcessMentions(const std::string& needle) {
  bool found = false;
  ForEachProcess([&](pid_t, const std::string& cmdline, const std::string&) {
    found = found || cmdline.find(needle) != std::string::npos;
  });
  return found;
}

PausedCommand::PausedCommand(const WalArchiveEnv& env, const std::vector<std::string>& args, const std::string& point)
    : point_(point), command_(args.front()), pause_dir_(env.dir() + "/pause-" + point + "-" + std::to_string(++counter_)) {
  fs::create_directories(pause_dir_);
  GiveToServerUser(pause_dir_);
  ProcessOptions o;
  o.cwd = env.dir();
  o.env = {{"TZ", "UTC"}, {"DHANBAK_TEST_PAUSE", point}, {"DHANBAK_TEST_PAUSE_DIR", pause_dir_}};
  o.unset_env = {"DHANBAK_CONFIG", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"};
  needle_ = pause_dir_;
  o.env.push_back({"DHANBAK_TEST_NEEDLE", needle_});
  process_ = std::make_unique<BackgroundProcess>(env.Argv(args), o);
}

bool WaitForPausePoint(const std::string& dir, const std::string& point, BackgroundProcess& process,
                       std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!fs::exists(dir + "/" + point + ".reached")) {
    if (std::chrono::steady_clock::now() > until || !process.Running()) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

void ContinueFromPausePoint(const std::string& dir, const std::string& point) {
  std::ofstream(dir + "/" + point + ".continue") << "go\n";
}

void PausedCommand::WaitForPause() {
  const bool reached = WaitForPausePoint(pause_dir_, point_, *process_, 3min);
  INFO(process_->Stdout() << process_->Stderr());
  REQUIRE(reached);
}

void PausedCommand::Signal(int sig) {
  std::vector<pid_t> pids;
  ForEachProcess([&](pid_t pid, const std::string& cmdline, const std::string& environ) {
    if (environ.find("DHANBAK_TEST_NEEDLE=" + needle_) == std::string::npos) return;
    if (fs::path(cmdline.substr(0, cmdline.find('\0'))).filename() != "dhanbak") return;
    // Not the wal-fetch the recovery server runs (it inherits the environment).
    if (cmdline.find(std::string(1, '\0') + command_ + '\0') == std::string::npos) return;
    pids.push_back(pid);
  });
  REQUIRE(pids.size() == 1);
  ::kill(pids.front(), sig);
}

ProcessResult PausedCommand::Finish() { return process_->Wait(3min); }

}  // namespace dhanbak::test
