// A dhanbak setup that PostgreSQL's archiver itself runs: archive_command and restore_command
// execute as the server's OS user, so everything they touch lives in a directory that user owns
// (/tmp/dhanbak-wal-XXXXXX): a copy of the dhanbak binary (the build tree may be private to
// root), the configuration, the passphrase file, a file:// repository, the catalog and the spool.
// The test's own dhanbak runs happen as that user too. Removed when the object goes away.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace dhanbak::test {

class WalArchiveEnv {
 public:
  // `extra_config` is appended to dhanbak.toml (e.g. "[pitr]\narchive_async = false\n").
  explicit WalArchiveEnv(const std::string& extra_config = "");
  ~WalArchiveEnv();
  WalArchiveEnv(const WalArchiveEnv&) = delete;
  WalArchiveEnv& operator=(const WalArchiveEnv&) = delete;

  const std::string& dir() const { return dir_; }
  std::string binary() const { return dir_ + "/dhanbak"; }
  std::string config_path() const { return dir_ + "/dhanbak.toml"; }
  std::string repo_dir() const { return dir_ + "/repository"; }
  std::string spool_dir() const { return dir_ + "/spool"; }
  std::string scratch_dir() const { return dir_ + "/scratch"; }
  // "'BINARY' -c 'CONFIG' wal-push %p" and "... wal-fetch %f %p", for postgresql.conf.
  std::string ArchiveCommand() const;
  std::string RestoreCommand() const;

  // dhanbak -c CONFIG --no-progress ARGS..., as the server's OS user.
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  // In time zone `tz` (TZ=UTC unless said).
  ProcessResult Run(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(120),
                    const std::string& tz = "UTC") const;

  // Turns WAL archiving into this repository on (restart of `cluster`); `archive_timeout` 0 = off.
  void EnableArchiving(PgCluster& cluster) const;
  // The WAL file names stored in the repository (from the object names), sorted, duplicates kept.
  std::vector<std::string> ArchivedFiles() const;
  // Ends the current segment (pg_switch_wal) and waits until the archiver reports it archived;
  // returns its name. Throws std::runtime_error after `timeout`.
  std::string SwitchAndWaitArchived(PgCluster& cluster, std::chrono::seconds timeout = std::chrono::seconds(60)) const;

 private:
  std::string dir_;
};

// `text` as a postgresql.conf string value: 'text' with quotes doubled.
std::string ConfString(const std::string& text);

// A server started on a data directory the test prepared (a restored base backup), on a free
// port with its socket in the data directory's parent; stopped (immediate) by the destructor.
class DataDirServer {
 public:
  DataDirServer(const std::string& bindir, std::string data_dir, const std::string& settings);
  ~DataDirServer();
  int port() const { return port_; }
  // psql -X -At against database `db`; throws std::runtime_error on failure.
  std::string Psql(const std::string& db, const std::string& sql) const;
  // The server log (for failure messages).
  std::string Log() const;

 private:
  std::string bindir_;
  std::string data_dir_;
  std::string socket_dir_;
  int port_ = 0;
};

}  // namespace dhanbak::test
