// LocalServer — a PostgreSQL server that dhanbak starts itself on a data directory it restored
// (restore-cluster's recovery; later the scratch server of point-in-time restores): reachable
// only through a Unix socket in a private directory (listen_addresses = ''), controlled with
// its own child process (so its exit is known at once), stopped immediately if the caller
// unwinds without stopping it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dhanbak::pg {

// 'value' for a POSIX shell (a single quote becomes '\'').
std::string ShellQuote(const std::string& s);

struct LocalServerOptions {
  std::string pgdata;
  std::string bin_dir;     // where the postgres binary is
  std::string socket_dir;  // private (0700): only this user can connect
  std::string log_file;
  int port = 5432;         // only names the socket file
  // Given on the postmaster's command line (-c name=value), so they win over every file.
  std::vector<std::pair<std::string, std::string>> settings;
};

class LocalServer {
 public:
  explicit LocalServer(LocalServerOptions options);
  ~LocalServer();  // pg_ctl stop -m immediate when still running
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  // Starts the postmaster without waiting (recovery may take long before it accepts connections).
  void Start();
  // Whether the postmaster still runs; once it has exited, its exit status is kept.
  bool Running();
  // Stops it and waits up to `timeout_seconds`: mode "fast" (a clean shutdown, SIGINT) or
  // "immediate" (SIGQUIT); past the timeout it is killed.
  void Stop(const std::string& mode, int timeout_seconds = 600);
  // libpq conninfo for `user` and `dbname` over the private socket.
  std::string Conninfo(const std::string& user, const std::string& dbname) const;
  // The last lines of the server log that say why it stopped (FATAL, PANIC, LOG lines at the end).
  std::string LogTail(size_t lines = 8) const;
  const LocalServerOptions& options() const { return options_; }

 private:
  LocalServerOptions options_;
  int pid_ = -1;  // the postmaster, while it runs
};

}  // namespace dhanbak::pg
