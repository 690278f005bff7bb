// The steps a replay of the WAL archive shares, whether it rebuilds the whole cluster
// (restore-cluster) or serves one database's point-in-time restore from a scratch directory:
// the base backup's files restored and checked against the server's own backup_manifest, and a
// recovering PostgreSQL that dhanbak starts itself (private socket, archiving off, restore_command
// = this dhanbak's wal-fetch, the target time and timeline explicit, action pause) and watches
// until it is paused at the target.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "command/context.hpp"
#include "common/temp_dir.hpp"
#include "common/time_spec.hpp"
#include "pg/connection.hpp"
#include "pg/local_server.hpp"
#include "physical/recovery_plan.hpp"

namespace dhanbak::command {

// `path` made absolute and lexically normal; Error(kInvalidArgument) when it cannot be.
std::string AbsolutePath(const std::string& path);

// Where the server binaries for a replay are: [pitr] pg_bin_dir, or those of the base backup's version.
std::string ReplayBinDir(const Config& config, int server_version_num);

// Restores every tar archive of `base` and its backup_manifest: the main one into `pgdata`, each
// tablespace's into `locations[oid]` (the pg_tblspc links pointing there); syncs. Adds the bytes
// written to `bytes`.
void RestoreBaseBackupFiles(const format::Repository& repo, size_t threads, const format::BaseBackupManifest& base,
                            const std::string& pgdata, const std::map<std::string, std::string>& locations,
                            int64_t& bytes);

// pg_verifybackup of the restored files; Error(kVerification) on a difference.
void VerifyRestoredFiles(const std::string& bin_dir, const std::string& pgdata);

// Stops a postmaster left running on `pgdata` by a killed dhanbak run (read from postmaster.pid).
void StopOrphanedServer(const std::string& pgdata);

struct ReplayState {
  bool in_recovery = true;
  std::string pause_state;
  std::optional<std::string> last_xact;  // pg_last_xact_replay_timestamp(), ISO UTC
  std::string replay_lsn;
  uint32_t timeline = 0;
};

// "00000001000000000000000A": the segment holding the record that ends just before `lsn`.
std::string SegmentOfLsn(const std::string& lsn, uint32_t timeline, uint32_t segment_size);

// A recovering server on restored files. Its settings are appended to postgresql.auto.conf
// (RestoreAutoConf() puts the backed-up content back); the socket, archiving, authentication,
// logging and the hot-standby limits the WAL requires are given on its command line. The
// private directory (socket, pg_hba.conf, log) is `private_dir`. Destruction stops it at once.
class RecoveryServer {
 public:
  RecoveryServer(Context& ctx, const std::string& pgdata, const std::string& bin_dir,
                 const physical::RecoveryPlan& plan, const TimeSpec& at, const std::string& private_dir);
  // Starts the server and waits until replay is paused at the target (`latest`: until recovery
  // ended and the server promoted itself). Checks that nothing after the target was replayed.
  ReplayState ReplayToTarget();
  // Ends recovery where it paused (transactions in flight there are rolled back, and their
  // locks released) and waits until the server runs on its new timeline.
  void Promote();
  // pg_amcheck --all --heapallindexed on the running server; Error(kVerification) on a problem.
  void Amcheck();
  pg::PgConnection& connection() { return *conn_; }
  ReplayState Query();
  // Conninfo of the running server for `dbname`, as the superuser it was reached as.
  std::string Conninfo(const std::string& dbname) const;
  const std::string& user() const { return user_; }
  pg::LocalServer& server() { return *server_; }
  void RestoreAutoConf();

 private:
  void Configure();
  std::unique_ptr<pg::PgConnection> TryConnect();
  bool RaiseLimitIfStuck();

  Context& ctx_;
  std::string pgdata_, bin_dir_, private_dir_;
  physical::RecoveryPlan plan_;
  TimeSpec at_;
  std::string original_auto_conf_;
  std::string user_;
  int restarts_ = 0;
  std::unique_ptr<pg::LocalServer> server_;
  std::unique_ptr<pg::PgConnection> conn_;
};

}  // namespace dhanbak::command
