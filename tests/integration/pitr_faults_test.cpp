// Point-in-time restores of one database (issue 10) when things go wrong or get reused: a run
// killed (SIGKILL) or stopped (SIGTERM) in every phase, a gap in the archive, a scratch file
// system too small, the primary's limits raised after the base backup, and [pitr] scratch_keep.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/paused_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/pitr_fixture.hpp"
#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace pitr_faults_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("a point-in-time restore killed or stopped in any phase leaves nothing behind; a gap is refused up front") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::vector<std::string> restored{"ledger_killed", "ledger_stopped", "ledger_gap"};
  PreparePitr(cluster, env, "pitr-kill-space", restored);
  REQUIRE(env.Run({"backup", "ledger"}, 5min).exit_code == 0);
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1, 'before the gap')");
  const std::string t1 = PointInTime(cluster);
  const std::string ledger_t1 = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);

  const std::vector<std::string> restore{"restore", "ledger", "--at", t1, "--target-db", "ledger_killed"};
  for (const char* point : {"pitr-scratch-claimed", "pitr-replayed", "pitr-copied", "restore-loading"}) {
    INFO(point);
    PausedCommand run(env, restore, point);
    run.WaitForPause();
    run.Signal(SIGKILL);
    CHECK(run.Finish().exit_code == 137);
    // Loading into the live cluster, the scratch server is already stopped and the database is
    // built under a temporary name: both are leftovers.
    const bool loading = std::string(point) == "restore-loading";
    CHECK(ScratchContents(env).size() == 1);
    CHECK_FALSE(HasDatabase(cluster, "ledger_killed"));
    if (std::string(point) != "pitr-scratch-claimed" && !loading) CHECK(AnyProcessMentions(env.scratch_dir()));
    ProcessResult status = env.Run({"status"});
    CHECK(status.out.find("leftover: scratch directory " + env.scratch_dir() + "/pitr-") != std::string::npos);
    if (loading) CHECK(status.out.find("leftover: database dhanbak_restoring_") != std::string::npos);
    ProcessResult json = env.Run({"--json", "status"});
    CHECK(nlohmann::json::parse(json.out)["scratch_leftovers"].size() == 1);
    // The next run removes the leftover (and stops its server) before it starts.
    ProcessResult again = PitrRestore(env, {"ledger", "--at", t1, "--target-db", "ledger_killed"});
    INFO(again.out << again.err);
    REQUIRE(again.exit_code == 0);
    CHECK(again.err.find("left by a point-in-time restore that was killed") != std::string::npos);
    CHECK(Ledger(cluster, "ledger_killed") == ledger_t1);
    CHECK(ScratchContents(env).empty());
    CHECK_FALSE(AnyProcessMentions(env.scratch_dir()));
    cluster.Psql("postgres", "DROP DATABASE ledger_killed WITH (FORCE)");
  }
  for (const char* point : {"pitr-scratch-claimed", "pitr-replayed", "pitr-copied", "restore-loading"}) {
    INFO(point);
    PausedCommand run(env, {"restore", "ledger", "--at", t1, "--target-db", "ledger_stopped"}, point);
    run.WaitForPause();
    run.Signal(SIGTERM);
    ProcessResult r = run.Finish();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 143);
    CHECK(ScratchContents(env).empty());
    CHECK_FALSE(AnyProcessMentions(env.scratch_dir()));
    CHECK(cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'ledger_stopped%' OR "
                                   "datname LIKE 'dhanbak_restoring_%'") == "0");
  }

  {  // A scratch file system too small for the replay: refused before anything is written.
    fs::create_directories(env.scratch_dir());
    if (std::system(("mount -t tmpfs -o size=16m,mode=0700 dhanbak-test " + env.scratch_dir() + " 2>/dev/null").c_str()) ==
        0) {
      GiveToServerUser(env.scratch_dir());
      ProcessResult full = PitrRestore(env, {"ledger", "--at", t1, "--target-db", "ledger_stopped"});
      INFO(full.out << full.err);
      CHECK(full.exit_code == 1);
      CHECK(full.err.find("free, but a replay of base backup") != std::string::npos);
      CHECK(full.err.find("nothing was written") != std::string::npos);
      CHECK(ScratchContents(env).empty());
      CHECK_FALSE(HasDatabase(cluster, "ledger_stopped"));
      CHECK(std::system(("umount " + env.scratch_dir()).c_str()) == 0);
    } else {
      MESSAGE("cannot mount a tmpfs here: the full-scratch check is not exercised");
    }
  }

  // A segment lost from the archive: a time after it cannot be reached from the WAL.
  const std::string lost = WriteIntoLostSegment(env, cluster);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9003, 3, 'after the gap')");
  const std::string t_after = PointInTime(cluster);
  env.SwitchAndWaitArchived(cluster);
  ProcessResult refused = PitrRestore(env, {"ledger", "--at", t_after, "--source", "wal", "--target-db", "ledger_gap"});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("missing segment " + lost) != std::string::npos);
  CHECK(refused.err.find("reachable") != std::string::npos);
  CHECK(ScratchContents(env).empty());
  CHECK_FALSE(HasDatabase(cluster, "ledger_gap"));
  ProcessResult fallback = PitrRestore(env, {"ledger", "--at", t_after, "--target-db", "ledger_gap"});
  INFO(fallback.out << fallback.err);
  REQUIRE(fallback.exit_code == 0);
  CHECK(fallback.out.rfind("source: nightly backup", 0) == 0);
  CHECK(fallback.out.find("missing segment " + lost) != std::string::npos);
  ProcessResult window = env.Run({"list", "ledger"});
  CHECK(window.out.find("no base backup after the archive's newest gap") != std::string::npos);
  DropDatabases(cluster, restored);
}

TEST_CASE("a replay restarts with the primary's limits when the WAL raised them after the base backup") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  PreparePitr(cluster, env, "pitr-limits-space", {"ledger_limits"});
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  const int raised = std::stoi(cluster.Psql("postgres", "SHOW max_connections")) + 23;
  cluster.Reconfigure("max_connections = " + std::to_string(raised));  // a new port: --target-conninfo below
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9100, 1, 'after the restart')");
  const std::string t = PointInTime(cluster);
  const std::string ledger_t = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);
  ProcessResult r = PitrRestore(env, {"ledger", "--at", t, "--source", "wal", "--target-db", "ledger_limits",
                                  "--target-conninfo", cluster.Conninfo()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("the WAL raised max_connections to " + std::to_string(raised)) != std::string::npos);
  CHECK(Ledger(cluster, "ledger_limits") == ledger_t);
  CHECK(ScratchContents(env).empty());
  cluster.Psql("postgres", "DROP DATABASE ledger_limits WITH (FORCE)");
}

TEST_CASE("[pitr] scratch_keep: a second restore from the same base backup copies the kept files") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env("scratch_keep = 1\n");
  const std::vector<std::string> restored{"ledger_k1", "ledger_k2", "ledger_k3"};
  PreparePitr(cluster, env, "pitr-keep-space", restored);
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "UPDATE entries SET note = 'first' WHERE id < 100");
  const std::string t1 = PointInTime(cluster);
  const std::string ledger_t1 = Ledger(cluster, "ledger");
  cluster.Psql("ledger", "UPDATE entries SET note = 'second' WHERE id < 200");
  const std::string t2 = PointInTime(cluster);
  const std::string ledger_t2 = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);

  ProcessResult tl = env.Run({"timeline", "ledger", "--around", t1});
  INFO(tl.out << tl.err);
  CHECK(tl.exit_code == 0);
  CHECK(tl.out.find("public.entries 99 UPDATE") != std::string::npos);  // named from the live database

  ProcessResult first = PitrRestore(env, {"ledger", "--at", t1, "--target-db", "ledger_k1"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.find("kept the restored base backup") != std::string::npos);
  CHECK(Ledger(cluster, "ledger_k1") == ledger_t1);
  std::vector<std::string> kept = ScratchContents(env);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].rfind("kept-", 0) == 0);

  ProcessResult second = PitrRestore(env, {"ledger", "--at", t2, "--target-db", "ledger_k2"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.err.find("(kept by an earlier restore)") != std::string::npos);
  CHECK(Ledger(cluster, "ledger_k2") == ledger_t2);
  CHECK(ScratchContents(env) == kept);  // the run's own directory is gone, the kept copy stays

  // A newer base backup: its copy is kept, the older one goes (scratch_keep = 1).
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "UPDATE entries SET note = 'third' WHERE id < 300");
  const std::string t3 = PointInTime(cluster);
  const std::string ledger_t3 = Ledger(cluster, "ledger");
  env.SwitchAndWaitArchived(cluster);
  ProcessResult third = PitrRestore(env, {"ledger", "--at", t3, "--target-db", "ledger_k3"});
  INFO(third.out << third.err);
  REQUIRE(third.exit_code == 0);
  CHECK(Ledger(cluster, "ledger_k3") == ledger_t3);
  std::vector<std::string> now_kept = ScratchContents(env);
  REQUIRE(now_kept.size() == 1);
  CHECK(now_kept[0] != kept[0]);
  DropDatabases(cluster, restored);
}

}  // namespace pitr_faults_test
