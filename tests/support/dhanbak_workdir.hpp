// A throwaway dhanbak setup for integration tests: a temporary directory holding a
// configuration file, a passphrase file (mode 0600), a local file:// repository and the SQLite
// catalog, pointed at a PgCluster. Run() invokes the real dhanbak binary (DhanbakBinary(), see
// support/build_under_test.hpp) with `-c <config> --allow-root --no-progress` and captures its
// output. The directory is removed when the object is destroyed.
#pragma once

#include <string>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace dhanbak::test {

struct WorkdirOptions {
  std::vector<std::string> databases;  // [postgres] databases
  int jobs = 2;                        // [postgres] jobs
  std::string verify_conninfo;         // [verify] conninfo (empty: key not written)
};

class DhanbakWorkdir {
 public:
  DhanbakWorkdir(PgCluster& cluster, const WorkdirOptions& options);
  ~DhanbakWorkdir();
  DhanbakWorkdir(const DhanbakWorkdir&) = delete;
  DhanbakWorkdir& operator=(const DhanbakWorkdir&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& repo_dir() const { return repo_dir_; }
  const std::string& catalog_path() const { return catalog_path_; }
  // "host=127.0.0.1 port=N user=postgres" of the cluster (no dbname), as written to the config.
  const std::string& conninfo() const { return conninfo_; }

  // Rewrites the configuration file (e.g. to add [verify] conninfo later).
  void WriteConfig(const WorkdirOptions& options);

  // dhanbak -c CONFIG --allow-root --no-progress ARGS...; never throws on a non-zero exit.
  ProcessResult Run(const std::vector<std::string>& args, ProcessOptions options = {}) const;
  // Run(), but a non-zero exit throws std::runtime_error with the command, exit code and output.
  std::string RunOk(const std::vector<std::string>& args, ProcessOptions options = {}) const;
  // The full argv that Run() would execute (for BackgroundProcess).
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;

  // Backup ids of `database` from `list --json`, newest first, status "ok" only.
  std::vector<std::string> GoodBackups(const std::string& database) const;

 private:
  std::string dir_;
  std::string config_path_;
  std::string repo_dir_;
  std::string catalog_path_;
  std::string passphrase_path_;
  std::string conninfo_;
};

// Names of the databases on `cluster` whose name starts with `prefix`, sorted.
std::vector<std::string> DatabasesWithPrefix(PgCluster& cluster, const std::string& prefix);

// Everything a failed dhanbak run printed, for failure messages.
std::string Describe(const ProcessResult& r);

// TOML basic string literal: "text" with backslashes, quotes and control characters escaped.
std::string TomlString(const std::string& text);

}  // namespace dhanbak::test
