// A throwaway PostgreSQL server for one test binary.
//
// The first call to SharedCluster() makes a fresh cluster in a new /tmp/dhanbak-pg-XXXXXX
// directory (a copy of one initdb made, with its own system identifier: cluster_template.hpp)
// and starts the server on a free TCP port on 127.0.0.1 (unix socket in the same directory),
// tuned for speed, not durability (fsync, full_page_writes and synchronous_commit off). When
// the test process runs as root, initdb/pg_ctl run as the `postgres` OS user, because the
// server refuses to run as root. The server is stopped and the directory removed at exit; a
// small watchdog process does the same if the test binary dies without unwinding (crash,
// SIGKILL, ctest timeout), so no test run leaves servers behind.
//
// Authentication is `trust` for everyone; the superuser is `postgres`.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "support/process.hpp"

namespace dhanbak::test {

class PgCluster {
 public:
  struct Options {
    // initdb --wal-segsize. The tests' clusters use 1 MiB segments: every pg_switch_wal() of a
    // test then hands wal-push a 1 MiB file instead of 16 MiB of mostly zeros, and each replay
    // fetches as much less. One scenario (standby_test's base backup and point-in-time
    // restore) keeps PostgreSQL's default of 16 MiB.
    int wal_segment_mb = 1;
  };
  // Initialises and starts a new cluster. Throws std::runtime_error (with the server log) if
  // the server cannot be started.
  PgCluster() : PgCluster(Options{}) {}
  explicit PgCluster(const Options& options);
  // A hot standby of `primary`: pg_basebackup -R from it, streaming, with `extra_conf` appended
  // to its postgresql.conf (e.g. "max_standby_streaming_delay = 0"). The primary must have no
  // tablespaces (they would land on the primary's own directories).
  struct StandbyOf {
    const PgCluster& primary;
    std::string extra_conf;
  };
  explicit PgCluster(const StandbyOf& standby);
  ~PgCluster();  // stops the server (fast shutdown) and removes the directory
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  int port() const { return port_; }
  // Appends `lines` to postgresql.conf and restarts the server, on a new port: settings that
  // need a restart (max_locks_per_transaction). Configuration written with the old port is stale.
  void Reconfigure(const std::string& lines);
  const std::string& bindir() const { return bindir_; }     // initdb, pg_dump, psql, ...
  const std::string& base_dir() const { return base_dir_; } // temp dir (also the socket dir)
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_file() const { return log_file_; }

  // Full path of a PostgreSQL client program, e.g. Tool("pg_dump").
  std::string Tool(const std::string& name) const;

  // "host=127.0.0.1 port=N user=postgres dbname=DB" (DB is quoted for libpq as needed).
  std::string Conninfo(const std::string& db = "postgres") const;

  // PGHOST, PGPORT, PGUSER, PGDATABASE (and PGCONNECT_TIMEOUT) for child processes such as
  // the dhanbak binary; pass to ProcessOptions::env.
  std::vector<std::pair<std::string, std::string>> PgEnv(const std::string& db = "postgres") const;

  // Runs `sql` with `psql -X -q -v ON_ERROR_STOP=1 -At` in `db` (statements are fed on stdin,
  // so several may be given, and CREATE DATABASE works). Returns stdout with one trailing
  // newline removed; rows are separated by '\n', columns by '|'. Throws std::runtime_error
  // carrying psql's stderr on any error. A single statement runs through libpq in this process
  // instead, printed and failing the same way (support/in_process_sql.hpp says when and why).
  std::string Psql(const std::string& db, const std::string& sql) const;

  // The psql process Psql falls back to, as is: its exit code, stdout and stderr.
  ProcessResult PsqlProcess(const std::string& db, const std::string& sql) const;

  // CREATE DATABASE "name" <extra_options>, e.g. extra "TEMPLATE template0 ENCODING 'LATIN1'";
  // STRATEGY FILE_COPY unless the options name a strategy.
  void CreateDatabase(const std::string& name, const std::string& extra_options = "") const;
  // DROP DATABASE IF EXISTS "name" WITH (FORCE).
  void DropDatabase(const std::string& name) const;
  bool DatabaseExists(const std::string& name) const;

  // psql -f path in db, with each pair passed as `-v name=value` (readable as :'name' /
  // :"name" in the script). Returns stdout; throws with stderr on failure.
  std::string RunSqlFile(const std::string& db, const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& variables = {}) const;

 private:
  void Create(const StandbyOf* standby);
  void Start();
  void CloneFrom(const StandbyOf& standby);
  void Launch();  // pg_ctl start on a free port
  void Stop() noexcept;
  void StartWatchdog();

  Options options_;
  std::string bindir_;
  std::string base_dir_;
  std::string data_dir_;
  std::string log_file_;
  int port_ = 0;
  bool as_postgres_user_ = false;  // running as root: wrap server commands in runuser
  bool running_ = false;
  int watchdog_fd_ = -1;  // write end of the pipe the watchdog waits on
};

// The one cluster of this test binary, started on first use and stopped at exit.
PgCluster& SharedCluster();

// True when the tests run as root, so servers (and anything their archive_command runs) run as
// the `postgres` OS user.
bool ServersRunAsPostgresUser();
// `argv` prefixed with `runuser -u postgres --` when ServersRunAsPostgresUser().
std::vector<std::string> AsServerUser(std::vector<std::string> argv);
// Gives `path` (recursively) to the `postgres` OS user when ServersRunAsPostgresUser().
void GiveToServerUser(const std::string& path);
// Waits until `sql` (run in database postgres of `cluster`) returns `expected`; throws
// std::runtime_error with the last answer after `timeout`.
void WaitForSql(const PgCluster& cluster, const std::string& sql, const std::string& expected,
                std::chrono::seconds timeout);
// A TCP port on 127.0.0.1 that nothing listens on right now.
int FreeTcpPort();

// A libpq connection-string value: as is when plain, else quoted with ' and \ escaped.
std::string ConninfoValue(const std::string& value);
// SQL identifier quoting: "name" with embedded quotes doubled.
std::string QuoteIdent(const std::string& name);
// SQL literal quoting: 'text' with embedded quotes doubled (standard_conforming_strings on).
std::string QuoteLiteral(const std::string& text);

}  // namespace dhanbak::test
