// A throwaway dhanbak setup for integration tests: a private work directory holding a
// passphrase file (0600), a dhanbak.toml pointing at a file:// repository and a catalog in that
// directory and at the test binary's SharedCluster(), and helpers to run the real binary.
// The directory is removed when the DhanbakEnv goes away.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace dhanbak::test {

class DhanbakEnv {
 public:
  // `databases` becomes [postgres] databases (what a bare `dhanbak backup` backs up).
  explicit DhanbakEnv(std::vector<std::string> databases, std::string passphrase = "integration test passphrase");
  ~DhanbakEnv();
  DhanbakEnv(const DhanbakEnv&) = delete;
  DhanbakEnv& operator=(const DhanbakEnv&) = delete;

  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/dhanbak.toml"; }
  std::string passphrase_path() const { return dir_ + "/passphrase"; }
  std::string repo_dir() const { return dir_ + "/repository"; }
  std::string catalog_path() const { return dir_ + "/catalog.sqlite"; }
  // "host=127.0.0.1 port=N user=postgres", without a database name.
  std::string conninfo() const;

  // Rewrites the passphrase file (keeping mode 0600).
  void SetPassphrase(const std::string& passphrase);

  // Creates the repository in-process, as `dhanbak init` does, but with cheap scrypt parameters
  // (the key file records them, so every later run unlocks in milliseconds instead of spending
  // 128 MiB and a fraction of a second on each command). For tests that are not about init.
  void InitFast() const;

  // The full command line: DhanbakBinary() -c toml --allow-root --no-progress args...
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  // Options every run uses: TZ=UTC (so local times in messages are predictable), no
  // DHANBAK_CONFIG or PG* variables leaking in from the environment, a generous timeout.
  ProcessOptions Options() const;
  ProcessResult Run(const std::vector<std::string>& args) const;
  // Run, but a non-zero exit fails the current test (REQUIRE) showing stdout and stderr.
  ProcessResult RunOk(const std::vector<std::string>& args) const;

  // `list --json [DB]`, parsed; REQUIREs success. Returns the "backups" array (newest first).
  nlohmann::json ListJson(const std::optional<std::string>& database = std::nullopt) const;

 private:
  std::string dir_;
};

// Writes the repository lock of a backup running on this host (this process's pid, so it is not
// taken for abandoned) into `env`'s repository; returns its path (remove it to release).
std::string HoldRunningBackupLock(const DhanbakEnv& env);

// Drops and creates database `name` with one small table `t` (100 rows).
void SmallDatabase(PgCluster& cluster, const std::string& name);

// Creates database `name` and fills it with scripts/gen-sample-data.sql (`kind` is one of
// common, community, inventory, payroll, purchase, sales). Drops an existing one first.
void GenerateSampleDatabase(PgCluster& cluster, const std::string& name, const std::string& kind,
                            const std::string& scale);

// Sum of exact row counts of every ordinary table in `db` outside the system schemas.
int64_t TotalRows(PgCluster& cluster, const std::string& db);

// Regular files below `dir` (0 when it does not exist).
size_t CountFiles(const std::string& dir);
// Sets the modification time of every file below `dir` `days` days back (what prune's grace
// period looks at in a file:// repository).
void AgeFiles(const std::string& dir, int days);

// The backup id that `backup` logged for `database` ("backing up DB as ID"), or "" if none.
std::string LoggedBackupId(const std::string& stderr_text, const std::string& database);

}  // namespace dhanbak::test
