// Base backups and whole-cluster restores (issue 9): `dhanbak base-backup` over the replication
// protocol, `dhanbak restore-cluster --at TIME` replaying the archive that PostgreSQL's own
// archiver filled through `dhanbak wal-push`. Every restored cluster is started by the test and
// its databases compared with what the source held at that point in time.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/paused_command.hpp"
#include "support/pitr_fixture.hpp"
#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace base_backup_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A restored data directory started for comparison (archiving off unless `settings` say otherwise).
std::unique_ptr<DataDirServer> Start(const PgCluster& cluster, const std::string& pgdata,
                                     const std::string& settings = "archive_mode = off\n") {
  return std::make_unique<DataDirServer>(cluster.bindir(), pgdata, settings);
}

ProcessResult RestoreCluster(const WalArchiveEnv& env, const std::string& at, const std::string& pgdata,
                             const std::vector<std::string>& more = {}) {
  std::vector<std::string> args{"restore-cluster", "--at", at, "--pgdata", pgdata};
  args.insert(args.end(), more.begin(), more.end());
  return env.Run(args, 5min);
}

// restore-cluster to `at` into env.dir()/NAME (its tablespace `space` remapped beside it), must
// succeed; the restored cluster's contents. `output` receives what it printed.
std::string RestoredState(const WalArchiveEnv& env, const PgCluster& cluster, const std::string& at,
                          const std::string& name, const std::string& space, std::string* output = nullptr) {
  ProcessResult r = RestoreCluster(env, at, env.dir() + "/" + name,
                                   {"--tablespace-map", space + "=" + OwnedDir(env, name + "-space")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  if (output != nullptr) *output = r.out;
  return Digest(*Start(cluster, env.dir() + "/" + name));
}

}  // namespace

TEST_CASE("restore-cluster brings the whole cluster back at several points in time, tablespaces remapped") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::string space = PreparePitr(cluster, env, "space1", {});

  ProcessResult base = env.Run({"base-backup"}, 5min);
  INFO(base.out << base.err);
  REQUIRE(base.exit_code == 0);
  CHECK(base.out.find("base backup ") != std::string::npos);
  REQUIRE(fs::exists(env.repo_dir() + "/basebackups"));
  {
    ProcessResult listed = env.Run({"--json", "list"});
    REQUIRE(listed.exit_code == 0);
    auto bases = nlohmann::json::parse(listed.out).at("base_backups");
    REQUIRE(bases.size() == 1);
    CHECK(bases[0].at("status") == "ok");
    CHECK(bases[0].at("stop_wal").get<std::string>().size() == 24);
    // The catalog is a cache: rebuilt from the repository, it knows the base backup again.
    fs::remove(env.dir() + "/catalog.sqlite");
    REQUIRE(env.Run({"catalog", "rebuild"}).exit_code == 0);
    ProcessResult again = env.Run({"list"});
    CHECK(again.out.find(bases[0].at("backup_id").get<std::string>()) != std::string::npos);
  }

  // After the base backup: three states with recorded points in time between them.
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1.5, 'after base')");
  cluster.Psql("payroll", "INSERT INTO slips(gross) VALUES (5000)");
  const std::string state_a = Digest(cluster);
  const std::string time_a = PointInTime(cluster);
  cluster.Psql("ledger", "UPDATE entries SET amount = amount * 2 WHERE id % 3 = 0; DELETE FROM entries WHERE id < 100;"
                         "INSERT INTO entries SELECT g, g, repeat('x', 200) FROM generate_series(20001, 120000) g");
  const std::string state_b = Digest(cluster);
  const std::string time_b = PointInTime(cluster);
  cluster.Psql("ledger", "DELETE FROM entries");  // the incident
  cluster.Psql("payroll", "UPDATE slips SET gross = 0");
  const std::string state_c = Digest(cluster);
  env.SwitchAndWaitArchived(cluster, 120s);
  REQUIRE(state_a != state_b);
  REQUIRE(state_b != state_c);

  for (const auto& [at, expected] : {std::pair{time_a, state_a}, std::pair{time_b, state_b},
                                     std::pair{std::string("latest"), state_c}}) {
    CAPTURE(at);
    const std::string pgdata = env.dir() + "/restored-" + std::to_string(std::hash<std::string>{}(at));
    const std::string new_space = env.dir() + "/space-" + std::to_string(std::hash<std::string>{}(at));
    OwnedDir(env, fs::path(new_space).filename().string());
    ProcessResult r = RestoreCluster(env, at, pgdata, {"--tablespace-map", space + "=" + new_space});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("last transaction:") != std::string::npos);
    CHECK(fs::read_symlink(fs::directory_iterator(pgdata + "/pg_tblspc")->path()) == new_space);
    CHECK_FALSE(fs::exists(pgdata + "/recovery.signal"));
    auto restored = Start(cluster, pgdata);
    INFO(restored->Log());
    CHECK(restored->Psql("postgres", "SELECT pg_is_in_recovery()") == "f");
    CHECK(Digest(*restored) == expected);
    CHECK(restored->Psql("ledger", "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'bb_space'") ==
          new_space);
  }
  ProcessResult checked = env.Run({"check", "--read-data"}, 5min);
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.out.find("WAL unbroken through") != std::string::npos);
}

TEST_CASE("restore-cluster refuses before writing anything: a gap in the WAL, a used directory, no base backup") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::string space = PreparePitr(cluster, env, "space2", {});
  const std::string before_base = PointInTime(cluster);

  ProcessResult none = RestoreCluster(env, "latest", env.dir() + "/r0");
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("no base backup") != std::string::npos);
  CHECK_FALSE(fs::exists(env.dir() + "/r0"));

  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  ProcessResult too_early = RestoreCluster(env, before_base, env.dir() + "/r0");
  CHECK(too_early.exit_code == 1);
  CHECK(too_early.err.find("no base backup ended at or before") != std::string::npos);

  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1, 'before the gap')");
  const std::string state_a = Digest(cluster);
  const std::string time_a = PointInTime(cluster);
  env.SwitchAndWaitArchived(cluster);
  const std::string lost = WriteIntoLostSegment(env, cluster);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9003, 3, 'after the gap')");
  const std::string time_c = PointInTime(cluster);
  env.SwitchAndWaitArchived(cluster);

  ProcessResult checked = env.Run({"check"}, 5min);
  CHECK(checked.exit_code == 3);
  CHECK(checked.out.find("missing segment " + lost) != std::string::npos);
  for (const std::string& at : {time_c, std::string("latest")}) {
    CAPTURE(at);
    ProcessResult gap = RestoreCluster(env, at, env.dir() + "/r1");
    CHECK(gap.exit_code == 1);
    CHECK(gap.err.find("missing segment " + lost) != std::string::npos);
    CHECK_FALSE(fs::exists(env.dir() + "/r1"));
  }

  const std::string used = OwnedDir(env, "used");
  std::ofstream(used + "/PG_VERSION") << "15\n";
  ProcessResult occupied = RestoreCluster(env, time_a, used);
  CHECK(occupied.exit_code == 2);
  CHECK(occupied.err.find("is not empty") != std::string::npos);
  CHECK(fs::exists(used + "/PG_VERSION"));

  ProcessResult bad_map = RestoreCluster(env, time_a, env.dir() + "/r2", {"--tablespace-map", "/nowhere=/tmp/x"});
  CHECK(bad_map.exit_code == 2);
  CHECK(bad_map.err.find("not a tablespace of base backup") != std::string::npos);
  CHECK_FALSE(fs::exists(env.dir() + "/r2"));

  // Before the gap everything is there.
  const std::string empty_dir = OwnedDir(env, "r3");
  ProcessResult ok = RestoreCluster(env, time_a, empty_dir,
                                    {"--tablespace-map", space + "=" + OwnedDir(env, "space3"), "--amcheck"});
  INFO(ok.out << ok.err);
  REQUIRE(ok.exit_code == 0);
  auto restored = Start(cluster, empty_dir);
  CHECK(Digest(*restored) == state_a);
}

TEST_CASE("after a promotion the restored cluster archives a second timeline; restores follow the timeline live at TIME") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::string space = PreparePitr(cluster, env, "space4", {});
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1, 'a')");
  const std::string state_a = Digest(cluster);
  const std::string time_a = PointInTime(cluster);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9002, 2, 'b on timeline 1')");
  const std::string state_b = Digest(cluster);
  const std::string time_b = PointInTime(cluster);
  env.SwitchAndWaitArchived(cluster);

  // The incident response: the cluster back at A, promoted (timeline 2), run with its own
  // archive settings: it archives its history file and its new WAL into the same repository.
  const std::string first = env.dir() + "/first";
  ProcessResult r = RestoreCluster(env, time_a, first, {"--tablespace-map", space + "=" + OwnedDir(env, "space-first")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("new timeline:     2") != std::string::npos);
  std::string state_d;
  {
    auto promoted = Start(cluster, first, "archive_timeout = 0\n");
    INFO(promoted->Log());
    REQUIRE(Digest(*promoted) == state_a);
    promoted->Psql("ledger", "INSERT INTO entries VALUES (9003, 3, 'd on timeline 2')");
    state_d = Digest(*promoted);
    std::string segment = promoted->Psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    CHECK(segment.starts_with("00000002"));
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (promoted->Psql("postgres", "SELECT coalesce(last_archived_wal >= '" + segment + "', false) FROM pg_stat_archiver") != "t") {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(200ms);
    }
  }
  auto files = env.ArchivedFiles();
  REQUIRE(std::find(files.begin(), files.end(), "00000002.history") != files.end());

  std::string printed;
  CHECK(RestoredState(env, cluster, "latest", "second", space, &printed) == state_d);
  CHECK(printed.find("new timeline:     3") != std::string::npos);
  // At B the old timeline was the live one (the promotion came later): B as it was.
  CHECK(RestoredState(env, cluster, time_b, "third", space) == state_b);
}

TEST_CASE("kill -9 and SIGTERM of base-backup and restore-cluster leave nothing half-done") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::string space = PreparePitr(cluster, env, "space5", {});
  const auto base_backups = [&] {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(env.repo_dir() + "/basebackups", ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
  };

  {
    PausedCommand stopped(env, {"base-backup"}, "base-backup-streamed");
    stopped.WaitForPause();
    stopped.Signal(SIGTERM);
    ProcessResult r = stopped.Finish();
    CHECK(r.exit_code == 143);
    CHECK(base_backups() == 0);
  }
  for (const char* point : {"base-backup-locked", "base-backup-streamed"}) {
    CAPTURE(point);
    PausedCommand killed(env, {"base-backup"}, point);
    killed.WaitForPause();
    killed.Signal(SIGKILL);
    killed.Finish();
    CHECK(base_backups() == 0);
  }
  ProcessResult again = env.Run({"base-backup"}, 5min);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("interrupted; marked failed") != std::string::npos);
  CHECK(base_backups() == 1);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1, 'after the base backup')");
  const std::string expected = Digest(cluster);
  env.SwitchAndWaitArchived(cluster);

  const std::string pgdata = env.dir() + "/restored";
  const std::string new_space = OwnedDir(env, "space-restored");
  const std::vector<std::string> args{"restore-cluster", "--at", "latest", "--pgdata", pgdata, "--tablespace-map",
                                      space + "=" + new_space};
  {
    PausedCommand stopped(env, args, "restore-cluster-reached");
    stopped.WaitForPause();
    stopped.Signal(SIGTERM);
    ProcessResult r = stopped.Finish();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 143);
    CHECK_FALSE(fs::exists(pgdata));
    CHECK(fs::is_empty(new_space));
    CHECK_FALSE(AnyProcessMentions(pgdata));  // the recovery server went with it
  }
  {
    PausedCommand killed(env, args, "restore-cluster-reached");
    killed.WaitForPause();
    killed.Signal(SIGKILL);
    killed.Finish();
    CHECK(fs::exists(pgdata + "/postmaster.pid"));  // the recovery server is orphaned, still running
  }
  ProcessResult rerun = env.Run(args, 5min);
  INFO(rerun.out << rerun.err);
  REQUIRE(rerun.exit_code == 0);
  CHECK(rerun.err.find("interrupted restore-cluster") != std::string::npos);
  CHECK_FALSE(fs::exists(pgdata + "/pg_wal/.dhanbak-restore-incomplete"));
  CHECK(Digest(*Start(cluster, pgdata)) == expected);
}

TEST_CASE("prune keeps every point within keep_within reachable, and deletes older base backups and their WAL") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env("[retention]\nkeep_within = \"3s\"\nkeep_last = 1\n");
  const std::string space = PreparePitr(cluster, env, "space6", {});
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9001, 1, 'a')");
  const std::string time_a = PointInTime(cluster);
  env.SwitchAndWaitArchived(cluster);
  // Three base backups 4 s apart, keep_within 3 s: the middle one reaches the window's start.
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(4s);
    REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  }
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9002, 2, 'b')");
  const std::string state_b = Digest(cluster);
  env.SwitchAndWaitArchived(cluster);

  ProcessResult listed = env.Run({"--json", "list"});
  REQUIRE(listed.exit_code == 0);
  auto bases = nlohmann::json::parse(listed.out).at("base_backups");
  REQUIRE(bases.size() == 3);
  const std::string newer = bases[1].at("backup_id"), older = bases[2].at("backup_id");
  const std::string newer_start = bases[1].at("start_wal");
  const auto segments_before = [&](const std::string& first) {
    size_t n = 0;
    for (const auto& f : env.ArchivedFiles()) n += (f.size() >= 24 && f.substr(0, 24) < first && !f.ends_with(".history")) ? 1 : 0;
    return n;
  };
  REQUIRE(segments_before(newer_start) > 0);

  ProcessResult dry = env.Run({"prune", "--dry-run"});
  INFO(dry.out << dry.err);
  REQUIRE(dry.exit_code == 0);
  CHECK(dry.out.find("would delete base backup " + older) != std::string::npos);
  CHECK(fs::exists(env.repo_dir() + "/basebackups/" + older));
  CHECK(segments_before(newer_start) > 0);

  ProcessResult pruned = env.Run({"--json", "prune"});
  INFO(pruned.out << pruned.err);
  REQUIRE(pruned.exit_code == 0);
  auto counts = nlohmann::json::parse(pruned.out).at("counts");
  CHECK(counts.at("base_backups_deleted") == 1);
  CHECK(counts.at("wal_files_deleted").get<int>() > 0);
  CHECK_FALSE(fs::exists(env.repo_dir() + "/basebackups/" + older));
  CHECK(fs::exists(env.repo_dir() + "/basebackups/" + newer));
  CHECK(segments_before(newer_start) == 0);
  auto files = env.ArchivedFiles();
  CHECK(std::find(files.begin(), files.end(), newer_start) != files.end());

  ProcessResult too_old = RestoreCluster(env, time_a, env.dir() + "/r-old");
  CHECK(too_old.exit_code == 1);
  CHECK(too_old.err.find("no base backup ended at or before") != std::string::npos);
  CHECK(RestoredState(env, cluster, "latest", "r-latest", space) == state_b);
}

TEST_CASE("a flipped byte in a base backup's manifest or in one of its chunks: restore-cluster exits 3 and leaves nothing") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  const std::string space = PreparePitr(cluster, env, "space7", {});
  REQUIRE(env.Run({"base-backup"}, 5min).exit_code == 0);
  const std::string expected = Digest(cluster);
  env.SwitchAndWaitArchived(cluster);

  const std::string manifest = fs::directory_iterator(env.repo_dir() + "/basebackups")->path().string();
  std::string largest;
  for (const auto& entry : fs::recursive_directory_iterator(env.repo_dir() + "/chunks")) {
    if (entry.is_regular_file() && (largest.empty() || entry.file_size() > fs::file_size(largest))) {
      largest = entry.path().string();
    }
  }
  REQUIRE_FALSE(largest.empty());
  const std::string pgdata = env.dir() + "/restored";
  const std::string new_space = OwnedDir(env, "restored-space");
  for (const std::string& object : {manifest, largest}) {
    CAPTURE(object);
    std::string original;
    {
      std::ifstream in(object, std::ios::binary);
      original.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::string flipped = original;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
    std::ofstream(object, std::ios::binary | std::ios::trunc) << flipped;
    ProcessResult r = RestoreCluster(env, "latest", pgdata, {"--tablespace-map", space + "=" + new_space});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK_FALSE(fs::exists(pgdata));
    CHECK(fs::is_empty(new_space));
    ProcessResult checked = env.Run({"check", "--read-data"}, 5min);
    CHECK(checked.exit_code == 3);
    CHECK(checked.out.find("base backup") != std::string::npos);
    std::ofstream(object, std::ios::binary | std::ios::trunc) << original;
  }
  CHECK(RestoredState(env, cluster, "latest", "intact", space) == expected);
}

TEST_CASE("base-backup refuses a server that does not archive, and a repository holding another cluster's WAL") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  env.SwitchAndWaitArchived(cluster);  // the archive now belongs to the shared cluster

  PgCluster other;  // archive_mode off
  PointAt(env, other);
  ProcessResult off = env.Run({"base-backup"});
  CHECK(off.exit_code == 2);
  CHECK(off.err.find("archive_mode = off") != std::string::npos);

  other.Reconfigure("wal_level = replica\narchive_mode = on\narchive_command = '/bin/true'\n");
  // Its new port: the [postgres] table is rewritten (TOML refuses a repeated one).
  std::string conf;
  {
    std::ifstream in(env.config_path());
    conf.assign(std::istreambuf_iterator<char>(in), {});
  }
  conf = conf.substr(0, conf.find("[postgres]")) + "[postgres]\nconninfo = \"host=127.0.0.1 port=" +
         std::to_string(other.port()) + " user=postgres\"\n";
  std::ofstream(env.config_path(), std::ios::trunc) << conf;
  ProcessResult foreign = env.Run({"base-backup"});
  CHECK(foreign.exit_code == 2);
  CHECK(foreign.err.find("another cluster's WAL") != std::string::npos);
  CHECK_FALSE(fs::exists(env.repo_dir() + "/basebackups"));
}

}  // namespace base_backup_test
