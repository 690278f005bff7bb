#include "pg/local_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "dhanbak/error.hpp"
#include "pg/connection.hpp"

namespace dhanbak::pg {
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

LocalServer::LocalServer(LocalServerOptions options) : options_(std::move(options)) {}

LocalServer::~LocalServer() {
  if (pid_ <= 0) return;
  try {
    Stop("immediate", 60);
  } catch (const std::exception&) {
    // Unwinding already: the original error is what the user must see.
  }
}

void LocalServer::Start() {
  std::vector<std::string> args{options_.bin_dir + "/postgres", "-D", options_.pgdata,
                                "-c", "port=" + std::to_string(options_.port),
                                "-c", "listen_addresses=",
                                "-c", "unix_socket_directories=" + options_.socket_dir};
  for (const auto& [name, value] : options_.settings) {
    args.push_back("-c");
    args.push_back(name + "=" + value);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = ::open(options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) throw Error(ErrorCode::kIo, "cannot create " + options_.log_file + ": " + std::strerror(errno));
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Its own session: a terminal's Ctrl-C reaches dhanbak, which then stops the server itself.
    ::setsid();
    if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) _exit(127);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log);
  if (in >= 0) ::close(in);
  if (pid < 0) throw Error(ErrorCode::kIo, std::string("cannot start PostgreSQL: ") + std::strerror(errno));
  pid_ = pid;
}

bool LocalServer::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  pid_ = -1;
  return false;
}

void LocalServer::Stop(const std::string& mode, int timeout_seconds) {
  if (!Running()) return;
  ::kill(pid_, mode == "fast" ? SIGINT : SIGQUIT);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (Running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      throw Error(ErrorCode::kPg, "PostgreSQL on " + options_.pgdata + " did not stop within " +
                                      std::to_string(timeout_seconds) + " s; it was killed" + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string LocalServer::Conninfo(const std::string& user, const std::string& dbname) const {
  return "host=" + ConninfoValue(options_.socket_dir) + " port=" + std::to_string(options_.port) +
         " user=" + ConninfoValue(user) + " dbname=" + ConninfoValue(dbname) + " connect_timeout=10";
}

std::string LocalServer::LogTail(size_t lines) const {
  std::ifstream in(options_.log_file);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += "\n  " + l;
  return out.empty() ? out : "\nserver log:" + out;
}

}  // namespace dhanbak::pg
