#include "support/pg_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "support/cluster_template.hpp"
#include "support/in_process_sql.hpp"
#include "support/process.hpp"
#include "support/temp_root.hpp"

namespace dhanbak::test {
namespace {

namespace fs = std::filesystem;

std::string FindBindir() {
  if (const char* forced = std::getenv("DHANBAK_PG_BINDIR"); forced != nullptr && *forced != '\0') return forced;
  // The project targets PostgreSQL 15; prefer it even when other versions are installed.
  if (fs::exists("/usr/lib/postgresql/15/bin/initdb")) return "/usr/lib/postgresql/15/bin";
  ProcessResult r;
  try {
    r = RunProcess({"pg_config", "--bindir"});
  } catch (const std::exception&) {
    r.exit_code = 127;
  }
  if (r.exit_code == 0) {
    std::string dir = r.out.substr(0, r.out.find_last_not_of(" \n") + 1);
    if (fs::exists(dir + "/initdb")) return dir;
  }
  throw std::runtime_error("PostgreSQL server binaries not found (looked in /usr/lib/postgresql/15/bin and "
                           "pg_config --bindir; set DHANBAK_PG_BINDIR)");
}

// Asks the kernel for a free port. Another process may take it before the server binds it;
// Start() retries with a new port in that case.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string StripOneNewline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Environment for client programs: a deterministic client encoding, and nothing from the
// developer's environment that could redirect or alter the session.
ProcessOptions ClientOptions() {
  ProcessOptions options;
  options.unset_env = PsqlChildUnsetEnvironment();
  options.env = {{"PGCLIENTENCODING", "UTF8"}};
  options.timeout = std::chrono::minutes(10);
  return options;
}

}  // namespace

std::string ConninfoValue(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \t\n'\\") == std::string::npos) return value;
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

std::string QuoteIdent(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string QuoteLiteral(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

PgCluster::PgCluster(const Options& options) : options_(options) { Create(nullptr); }

PgCluster::PgCluster(const StandbyOf& standby) { Create(&standby); }

void PgCluster::Create(const StandbyOf* standby) {
  bindir_ = FindBindir();
  as_postgres_user_ = geteuid() == 0;

  base_dir_ = MakeTestTempDir("dhanbak-pg");
  data_dir_ = base_dir_ + "/data";
  log_file_ = base_dir_ + "/server.log";
  try {
    if (as_postgres_user_) {
      passwd* pw = getpwnam("postgres");
      if (pw == nullptr) throw std::runtime_error("running as root but there is no `postgres` OS user");
      if (chown(base_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("chown " + base_dir_ + ": " + std::strerror(errno));
      }
    }
    StartWatchdog();
    if (standby != nullptr) {
      CloneFrom(*standby);
    } else {
      Start();
    }
  } catch (...) {
    Stop();
    std::error_code ignored;
    fs::remove_all(base_dir_, ignored);
    if (watchdog_fd_ >= 0) {
      (void)!write(watchdog_fd_, "done\n", 5);
      close(watchdog_fd_);
    }
    throw;
  }
}

PgCluster::~PgCluster() {
  Stop();
  std::error_code ignored;
  fs::remove_all(base_dir_, ignored);
  if (watchdog_fd_ >= 0) {
    (void)!write(watchdog_fd_, "done\n", 5);
    close(watchdog_fd_);
  }
}

bool ServersRunAsPostgresUser() { return geteuid() == 0; }

std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (!ServersRunAsPostgresUser()) return argv;
  argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

void GiveToServerUser(const std::string& path) {
  if (!ServersRunAsPostgresUser()) return;
  RunOrThrow({"chown", "-R", "postgres:", path});
}

void WaitForSql(const PgCluster& cluster, const std::string& sql, const std::string& expected,
                std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  for (;;) {
    try {
      last = cluster.Psql("postgres", sql);
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (last == expected) return;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("waited " + std::to_string(timeout.count()) + " s for (" + sql + ") to return '" +
                               expected + "', last answer: " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int FreeTcpPort() { return FreePort(); }

void PgCluster::Start() {
  InitClusterFromTemplate(bindir_, data_dir_, options_.wal_segment_mb);
  {
    std::ofstream conf(data_dir_ + "/postgresql.conf", std::ios::app);
    conf << "\n# dhanbak test cluster: speed over durability\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << base_dir_ << "'\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "max_connections = 100\n"
         << "max_wal_size = '2GB'\n"
         << "max_locks_per_transaction = 256\n"
         << "jit = off\nautovacuum = off\n"
         << "lc_messages = 'C'\n"
         << "log_min_messages = warning\n"
         << "log_line_prefix = '%m [%p] %q%u@%d '\n";
    if (!conf) throw std::runtime_error("cannot write " + data_dir_ + "/postgresql.conf");
  }

  Launch();
}

void PgCluster::CloneFrom(const StandbyOf& standby) {
  ProcessOptions options;
  options.cwd = base_dir_;
  options.unset_env = {"PGDATA", "PGPORT", "PGHOST", "PGOPTIONS"};
  options.timeout = std::chrono::minutes(5);
  RunOrThrow(AsServerUser({Tool("pg_basebackup"), "-D", data_dir_, "-R", "-X", "stream", "--no-sync", "-c", "fast",
                           "-d", standby.primary.Conninfo()}),
             options);
  {
    // The primary's socket directory was copied with its configuration: this server has its own.
    std::ofstream conf(data_dir_ + "/postgresql.conf", std::ios::app);
    conf << "\n# dhanbak test standby\n"
         << "unix_socket_directories = '" << base_dir_ << "'\n"
         << "hot_standby = on\n"
         << "archive_mode = off\n"
         << standby.extra_conf << "\n";
    if (!conf) throw std::runtime_error("cannot write " + data_dir_ + "/postgresql.conf");
  }
  Launch();
}

void PgCluster::Reconfigure(const std::string& lines) {
  Stop();
  {
    std::ofstream conf(data_dir_ + "/postgresql.conf", std::ios::app);
    conf << "\n" << lines << "\n";
    if (!conf) throw std::runtime_error("cannot write " + data_dir_ + "/postgresql.conf");
  }
  Launch();
}

void PgCluster::Launch() {
  ProcessOptions options;
  options.cwd = base_dir_;
  options.unset_env = {"PGDATA", "PGPORT", "PGHOST", "PGOPTIONS"};
  options.env = {{"LC_ALL", "C.UTF-8"}};
  options.timeout = std::chrono::minutes(2);
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    ProcessResult r = RunProcess(AsServerUser({Tool("pg_ctl"), "-D", data_dir_, "-l", log_file_, "-w", "-t", "60",
                                               "-o", "-p " + std::to_string(port_), "start"}),
                                 options);
    if (r.exit_code == 0) {
      running_ = true;
      return;
    }
    last_error = r.err + r.out + "\n--- server log ---\n" + ReadFileOrEmpty(log_file_);
    if (last_error.find("already in use") == std::string::npos) break;  // not a port race: give up
  }
  throw std::runtime_error("cannot start test PostgreSQL server: " + last_error);
}

void PgCluster::Stop() noexcept {
  if (!running_) return;
  running_ = false;
  try {
    ProcessOptions options;
    options.cwd = base_dir_;
    options.timeout = std::chrono::minutes(1);
    ProcessResult r = RunProcess(AsServerUser({Tool("pg_ctl"), "-D", data_dir_, "-m", "fast", "-w", "stop"}), options);
    if (r.exit_code != 0) {
      RunProcess(AsServerUser({Tool("pg_ctl"), "-D", data_dir_, "-m", "immediate", "-w", "stop"}), options);
    }
  } catch (...) {
    // Destructor path: nothing sensible left to do; the watchdog is not told "done" only if
    // we never get here, so a leaked server is still impossible in practice.
  }
}

void PgCluster::StartWatchdog() {
  // A detached shell that blocks reading a pipe whose write end only this process holds. A
  // clean shutdown writes "done"; any other end of this process (crash, SIGKILL) gives EOF and
  // the shell stops the server and deletes the directory.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::string script =
      "if read x && [ \"$x\" = done ]; then exit 0; fi; "
      "if [ \"$4\" = yes ]; then runuser -u postgres -- \"$1\" -D \"$2\" -m immediate -w stop; "
      "else \"$1\" -D \"$2\" -m immediate -w stop; fi; rm -rf \"$3\"";
  std::vector<std::string> args = {"/bin/sh", "-c", script, "dhanbak-pg-watchdog", Tool("pg_ctl"), data_dir_,
                                   base_dir_, as_postgres_user_ ? "yes" : "no"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Grandchild, so that nobody has to reap it and it outlives the test process.
    if (fork() != 0) _exit(0);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    dup2(fds[0], 0);
    dup2(devnull, 1);  // never hold ctest's output pipe open
    dup2(devnull, 2);
    close_range(3, ~0U, 0);
    signal(SIGPIPE, SIG_DFL);
    execv("/bin/sh", argv.data());
    _exit(127);
  }
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  watchdog_fd_ = fds[1];
}

std::string PgCluster::Tool(const std::string& name) const { return bindir_ + "/" + name; }

std::string PgCluster::Conninfo(const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + ConninfoValue(db);
}

std::vector<std::pair<std::string, std::string>> PgCluster::PgEnv(const std::string& db) const {
  return {{"PGHOST", "127.0.0.1"},
          {"PGPORT", std::to_string(port_)},
          {"PGUSER", "postgres"},
          {"PGDATABASE", db},
          {"PGCONNECT_TIMEOUT", "10"}};
}

ProcessResult PgCluster::PsqlProcess(const std::string& db, const std::string& sql) const {
  ProcessOptions options = ClientOptions();
  options.stdin_text = sql;
  return RunProcess({Tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", Conninfo(db)}, options);
}

std::string PgCluster::Psql(const std::string& db, const std::string& sql) const {
  ProcessResult r;
  if (std::optional<InProcessSqlResult> in = TryRunInProcess(Conninfo(db), sql)) {
    r.exit_code = in->ok ? 0 : in->connection_failed ? 2 : 3;  // psql's exit codes for the same outcome
    r.out = std::move(in->out);
    r.err = std::move(in->err);
  } else {
    r = PsqlProcess(db, sql);
  }
  if (r.exit_code != 0 || r.timed_out) {
    throw std::runtime_error("psql in database \"" + db + "\" failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err + "\nSQL: " + sql.substr(0, 2000));
  }
  return StripOneNewline(r.out);
}

void PgCluster::CreateDatabase(const std::string& name, const std::string& extra_options) const {
  // FILE_COPY unless the caller chose: PostgreSQL 15's default (WAL_LOG) writes the whole template
  // into the WAL, 7.5 MiB for an empty one, which an archiving test cluster then hands to wal-push
  // as seven or eight 1 MiB segments (and a replay fetches again). FILE_COPY logs one record (its
  // checkpoints cost little with fsync off) and takes half the time.
  std::string options = extra_options;
  std::string upper = options;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.find("STRATEGY") == std::string::npos) options += " STRATEGY FILE_COPY";
  Psql("postgres", "CREATE DATABASE " + QuoteIdent(name) + " " + options + ";");
}

void PgCluster::DropDatabase(const std::string& name) const {
  Psql("postgres", "DROP DATABASE IF EXISTS " + QuoteIdent(name) + " WITH (FORCE);");
}

bool PgCluster::DatabaseExists(const std::string& name) const {
  return Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(name) + ";") == "1";
}

std::string PgCluster::RunSqlFile(const std::string& db, const std::string& path,
                                  const std::vector<std::pair<std::string, std::string>>& variables) const {
  ProcessOptions options = ClientOptions();
  std::vector<std::string> argv = {Tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", Conninfo(db)};
  for (const auto& [name, value] : variables) {
    argv.push_back("-v");
    argv.push_back(name + "=" + value);
  }
  argv.push_back("-f");
  argv.push_back(path);
  ProcessResult r = RunProcess(argv, options);
  if (r.exit_code != 0 || r.timed_out) {
    throw std::runtime_error("psql -f " + path + " in database \"" + db + "\" failed (exit " +
                             std::to_string(r.exit_code) + "): " + r.err);
  }
  return r.out;
}

PgCluster& SharedCluster() {
  static PgCluster cluster;
  return cluster;
}

}  // namespace dhanbak::test
