// The WAL archive (issue 9): PostgreSQL's own archiver runs `dhanbak wal-push %p`, and a server
// recovering from a base backup runs `dhanbak wal-fetch %f %p`. Every test here goes through the
// real server: segments, timeline switches and the archiver's retries are PostgreSQL's own.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"
#include "support/wal_archive_env.hpp"

namespace wal_archive_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

// A directory inside the env that the server's OS user (who runs dhanbak there) may write.
std::string ServerDir(const WalArchiveEnv& env, const std::string& name) {
  std::string dir = env.dir() + "/" + name;
  fs::create_directories(dir);
  GiveToServerUser(dir);
  return dir;
}

// The repository object that holds WAL file `file` (exactly one is expected).
std::string ObjectOf(const WalArchiveEnv& env, const std::string& file) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(env.repo_dir() + "/wal")) {
    if (entry.path().filename().string().starts_with(file + "-")) found.push_back(entry.path().string());
  }
  REQUIRE_MESSAGE(found.size() == 1, file << " is stored " << found.size() << " times");
  return found.front();
}

// Position of a segment in the WAL (log * segments per log + segment), to find gaps.
uint64_t SegmentNumber(const std::string& name) {
  const uint64_t per_log = 4096 / PgCluster::Options{}.wal_segment_mb;  // 4 GiB of WAL per log
  return std::stoull(name.substr(8, 8), nullptr, 16) * per_log + std::stoull(name.substr(16, 8), nullptr, 16);
}

// Every segment of timeline 1 from the first archived one to `last` is in the archive, once.
void RequireUnbrokenChainTo(const WalArchiveEnv& env, const std::string& last) {
  std::vector<std::string> segments;
  for (const std::string& f : env.ArchivedFiles()) {
    if (f.size() == 24 && f <= last) segments.push_back(f);
  }
  REQUIRE_FALSE(segments.empty());
  REQUIRE(segments.back() == last);
  for (size_t i = 1; i < segments.size(); ++i) {
    INFO("after " << segments[i - 1]);
    REQUIRE(SegmentNumber(segments[i]) == SegmentNumber(segments[i - 1]) + 1);
  }
}

const char kDigestSql[] = "SELECT count(*) || ':' || md5(string_agg(id || '/' || amount || '/' || note, ',' ORDER BY id)) FROM entries";

}  // namespace

TEST_CASE("a base backup brought forward by dhanbak's WAL archive reaches the last archived commit") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  cluster.DropDatabase("ledger");
  cluster.CreateDatabase("ledger");
  cluster.Psql("ledger",
               "CREATE TABLE entries(id int PRIMARY KEY, amount numeric(12,2) NOT NULL, note text);"
               "INSERT INTO entries SELECT g, g * 1.25, md5(g::text) FROM generate_series(1, 5000) g");

  // pg_basebackup -X none: the backup needs the archive for every WAL byte it depends on.
  const std::string base = env.dir() + "/restored/data";
  ServerDir(env, "restored");
  ProcessOptions options;
  options.cwd = env.dir();
  options.timeout = 3min;
  RunOrThrow(AsServerUser({cluster.Tool("pg_basebackup"), "-D", base, "-X", "none", "-c", "fast", "-h", "127.0.0.1",
                           "-p", std::to_string(cluster.port()), "-U", "postgres"}),
             options);

  // After the backup: many transactions, a bulk load over several segments, updates and deletes.
  for (int i = 0; i < 20; ++i) {
    cluster.Psql("ledger", "INSERT INTO entries VALUES (" + std::to_string(10000 + i) + ", 99.5, 'late " +
                               std::to_string(i) + "')");
  }
  cluster.Psql("ledger",
               "INSERT INTO entries SELECT g, g * 0.5, repeat(md5(g::text), 4) FROM generate_series(20001, 220000) g;"
               "UPDATE entries SET amount = amount + 1 WHERE id % 7 = 0; DELETE FROM entries WHERE id % 11 = 0");
  const std::string expected = cluster.Psql("ledger", kDigestSql);
  const std::string last = env.SwitchAndWaitArchived(cluster, 120s);
  RequireUnbrokenChainTo(env, last);

  std::ofstream(base + "/recovery.signal").close();
  // archive_mode off: a restored copy must never archive into the production archive.
  DataDirServer restored(cluster.bindir(), base,
                         "archive_mode = off\nlog_min_messages = log\nrestore_command = " +
                             ConfString(env.RestoreCommand()) + "\nrecovery_target_action = 'promote'\n");
  auto deadline = std::chrono::steady_clock::now() + 120s;
  std::string in_recovery;
  do {
    std::this_thread::sleep_for(200ms);
    try {
      in_recovery = restored.Psql("postgres", "SELECT pg_is_in_recovery()");
    } catch (const std::exception& e) {
      in_recovery = e.what();
    }
  } while (in_recovery != "f" && std::chrono::steady_clock::now() < deadline);
  INFO(restored.Log());
  REQUIRE(in_recovery == "f");
  CHECK(restored.Psql("ledger", kDigestSql) == expected);
  CHECK(restored.Log().find("restored log file \"" + last + "\" from archive") != std::string::npos);
}

TEST_CASE("wal-push: the same file again succeeds at once, other content under its name is refused and kept") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  const std::string segment = env.SwitchAndWaitArchived(cluster);
  const std::string dir = ServerDir(env, "by-hand");
  const std::string copy = dir + "/" + segment;
  ProcessResult fetched = env.Run({"wal-fetch", segment, copy});
  REQUIRE_MESSAGE(fetched.exit_code == 0, fetched.err);
  const std::string original = ReadBytes(copy);
  REQUIRE(original.size() == static_cast<size_t>(PgCluster::Options{}.wal_segment_mb) << 20);

  SUBCASE("the same content: success, nothing stored twice") {
    ProcessResult again = env.Run({"wal-push", copy});
    CHECK_MESSAGE(again.exit_code == 0, again.err);
    CHECK(again.err.find("already archived with the same content") != std::string::npos);
    ObjectOf(env, segment);
  }
  SUBCASE("other content under the same name: exit 3, the archived file is untouched") {
    std::string changed = original;
    changed[8192 * 100 + 17] ^= 0x20;
    WriteBytes(copy, changed);
    const std::string stored_before = ReadBytes(ObjectOf(env, segment));
    ProcessResult clash = env.Run({"wal-push", copy});
    CHECK(clash.exit_code == 3);
    CHECK(clash.err.find("already archived with different content") != std::string::npos);
    CHECK(clash.err.find("nothing was overwritten") != std::string::npos);
    CHECK(ReadBytes(ObjectOf(env, segment)) == stored_before);
    const std::string back = dir + "/back";
    REQUIRE(env.Run({"wal-fetch", segment, back}).exit_code == 0);
    CHECK(ReadBytes(back) == original);
  }
  SUBCASE("a segment of another cluster: exit 3, not archived") {
    std::string foreign = original;
    foreign[24] ^= 0x01;  // xlp_sysid of the long page header
    const std::string name = segment.substr(0, 16) + "000000FE";
    WriteBytes(dir + "/" + name, foreign);
    ProcessResult refused = env.Run({"wal-push", dir + "/" + name});
    CHECK(refused.exit_code == 3);
    CHECK(refused.err.find("comes from the cluster with system identifier") != std::string::npos);
    for (const std::string& f : env.ArchivedFiles()) CHECK(f != name);
  }
  SUBCASE("not a WAL file name: exit 2") {
    WriteBytes(dir + "/postmaster.pid", "123\n");
    ProcessResult bad = env.Run({"wal-push", dir + "/postmaster.pid"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("is not the name of a WAL segment") != std::string::npos);
  }
}

TEST_CASE("wal-fetch: exit 1 only for a file the archive does not have; anything else stops recovery") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  const std::string segment = env.SwitchAndWaitArchived(cluster);
  const std::string dir = ServerDir(env, "fetched");

  ProcessResult missing = env.Run({"wal-fetch", "00000001000000FF000000FF", dir + "/x"});
  CHECK(missing.exit_code == 1);
  CHECK(env.Run({"wal-fetch", "00000009.history", dir + "/x"}).exit_code == 1);
  CHECK_FALSE(fs::exists(dir + "/x"));

  SUBCASE("a damaged object: 126, never 1") {
    const std::string object = ObjectOf(env, segment);
    std::string bytes = ReadBytes(object);
    bytes[bytes.size() / 2] ^= 0x01;
    WriteBytes(object, bytes);
    ProcessResult damaged = env.Run({"wal-fetch", segment, dir + "/x"});
    CHECK(damaged.exit_code == 126);
    CHECK(damaged.err.find(segment) != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/x"));
  }
  SUBCASE("the repository gone: 126, never 1") {
    fs::rename(env.repo_dir(), env.repo_dir() + ".away");
    ProcessResult gone = env.Run({"wal-fetch", segment, dir + "/x"});
    CHECK(gone.exit_code == 126);
    fs::rename(env.repo_dir() + ".away", env.repo_dir());
  }
  SUBCASE("a broken configuration: 126, never 1") {
    std::ofstream(env.config_path(), std::ios::app) << "fetch_ahaed = 3\n";  // a typo in the [pitr] table
    ProcessResult broken = env.Run({"wal-fetch", segment, dir + "/x"});
    CHECK(broken.exit_code == 126);
    CHECK(broken.err.find("unknown key 'pitr.fetch_ahaed'") != std::string::npos);
  }
}

TEST_CASE("a repository outage while the server writes: archiving fails, then catches up with nothing skipped") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env("push_timeout = \"3s\"\n");
  env.EnableArchiving(cluster);
  const std::string before = env.SwitchAndWaitArchived(cluster);
  const std::string failures_before = cluster.Psql("postgres", "SELECT failed_count FROM pg_stat_archiver");

  fs::rename(env.repo_dir(), env.repo_dir() + ".away");
  cluster.Psql("postgres", "CREATE TABLE IF NOT EXISTS outage(x text); INSERT INTO outage SELECT md5(g::text) FROM generate_series(1, 100000) g");
  std::string last;
  for (int i = 0; i < 3; ++i) {
    cluster.Psql("postgres", "INSERT INTO outage VALUES ('switch " + std::to_string(i) + "')");
    last = cluster.Psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
  }
  WaitForSql(cluster, "SELECT failed_count > " + failures_before + " FROM pg_stat_archiver", "t", 60s);
  CHECK(cluster.Psql("postgres", "SELECT last_archived_wal FROM pg_stat_archiver") == before);
  CHECK_FALSE(fs::exists(env.repo_dir()));  // nothing recreated an empty repository

  fs::rename(env.repo_dir() + ".away", env.repo_dir());
  WaitForSql(cluster, "SELECT last_archived_wal >= '" + last + "' FROM pg_stat_archiver", "t", 120s);
  RequireUnbrokenChainTo(env, last);
}

TEST_CASE("max_wal_backlog: in an outage wal-push gives files up instead of filling pg_wal; the gap is reported") {
  PgCluster& cluster = SharedCluster();
  // A backlog of 1.25 segments: one segment may wait, two may not.
  const int segment_kib = PgCluster::Options{}.wal_segment_mb * 1024;
  WalArchiveEnv env("push_timeout = \"2s\"\nmax_wal_backlog = \"" + std::to_string(segment_kib * 5 / 4) + "KiB\"\n");
  env.EnableArchiving(cluster);
  env.SwitchAndWaitArchived(cluster);
  fs::rename(env.repo_dir(), env.repo_dir() + ".away");
  cluster.Psql("postgres", "CREATE TABLE IF NOT EXISTS backlog(x text)");
  for (int i = 0; i < 4; ++i) {
    cluster.Psql("postgres", "INSERT INTO backlog VALUES ('switch " + std::to_string(i) + "')");
    cluster.Psql("postgres", "SELECT pg_switch_wal()");
  }
  // Four segments wait; wal-push gives files up until no more than 1.25 segments wait.
  WaitForSql(cluster,
             "SELECT count(*) <= 1 FROM pg_ls_dir('pg_wal/archive_status') AS f WHERE f LIKE '%.ready'", "t", 90s);
  fs::rename(env.repo_dir() + ".away", env.repo_dir());
  env.SwitchAndWaitArchived(cluster, 120s);

  ProcessResult status = env.Run({"status"});
  CHECK(status.exit_code == 5);
  CHECK(status.out.find("given up by max_wal_backlog") != std::string::npos);
  ProcessResult check = env.Run({"check"});
  CHECK(check.exit_code == 3);
  CHECK(check.out.find("given up by wal-push under [pitr] max_wal_backlog") != std::string::npos);
  std::ifstream log(cluster.log_file());
  std::string server_log((std::istreambuf_iterator<char>(log)), {});
  CHECK(server_log.find("is GIVEN UP, not archived") != std::string::npos);
}

TEST_CASE("kill -9 of the wal-push worker during a bulk load loses nothing") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  env.SwitchAndWaitArchived(cluster);
  const std::string lock = env.spool_dir() + "/archive/worker.lock";
  cluster.Psql("postgres", "CREATE TABLE IF NOT EXISTS bulk(x text)");
  ProcessOptions options;
  options.stdin_text = "INSERT INTO bulk SELECT repeat(md5(g::text), 3) FROM generate_series(1, 500000) g;";
  options.timeout = 5min;
  BackgroundProcess load({cluster.Tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                          std::to_string(cluster.port()), "-U", "postgres", "-d", "postgres"},
                         options);
  int kills = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (load.Running() && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(lock);
    std::string word;
    int pid = 0;
    if (in >> word >> pid && pid > 1) {
      // Only a live wal-push process: a stale pid may belong to anyone by now.
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      std::string args((std::istreambuf_iterator<char>(cmdline)), {});
      if (args.find("wal-push") != std::string::npos && ::kill(pid, SIGKILL) == 0) ++kills;
    }
    std::this_thread::sleep_for(300ms);
  }
  REQUIRE(load.Wait(5min).exit_code == 0);
  MESSAGE("killed the worker " << kills << " time(s)");
  CHECK(kills >= 1);
  const std::string last = env.SwitchAndWaitArchived(cluster, 180s);
  RequireUnbrokenChainTo(env, last);
}

TEST_CASE("check proves archiving end to end; list and status show the archive's range, gaps and age") {
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  env.EnableArchiving(cluster);
  std::ofstream(env.config_path(), std::ios::app)
      << "[postgres]\nconninfo = \"host=127.0.0.1 port=" << cluster.port() << " user=postgres\"\n";
  env.SwitchAndWaitArchived(cluster);
  env.SwitchAndWaitArchived(cluster);
  const std::string last = env.SwitchAndWaitArchived(cluster);

  ProcessResult check = env.Run({"check"});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("archiving works end to end: segment") != std::string::npos);

  ProcessResult listed = env.Run({"--json", "list"});
  REQUIRE(listed.exit_code == 0);
  auto wal = nlohmann::json::parse(listed.out).at("wal");
  REQUIRE(wal.at("timelines").size() == 1);
  CHECK(wal.at("timelines")[0].at("segments").get<int>() >= 3);
  CHECK(wal.at("timelines")[0].at("gaps").empty());
  CHECK(wal.at("newest_age_seconds").get<int>() < 600);
  ProcessResult fresh = env.Run({"status", "--max-wal-age", "1h"});
  CHECK_MESSAGE(fresh.exit_code == 0, fresh.out << fresh.err);
  CHECK(fresh.out.find("newest archived WAL: ") != std::string::npos);

  SUBCASE("a segment deleted from the repository is a gap: check exits 3, status 5") {
    // The segment before `last`: the gap has archived segments on both sides.
    const std::vector<std::string> files = env.ArchivedFiles();
    auto at = std::find(files.begin(), files.end(), last);
    REQUIRE(at != files.end());
    REQUIRE(at != files.begin());
    const std::string before_last = *(at - 1);
    fs::remove(ObjectOf(env, before_last));
    ProcessResult damaged = env.Run({"check"});
    CHECK(damaged.exit_code == 3);
    CHECK(damaged.out.find("1 segment(s) missing between") != std::string::npos);
    ProcessResult status = env.Run({"status"});
    CHECK(status.exit_code == 5);
    CHECK(status.out.find("gap(s) in the WAL archive") != std::string::npos);
    auto gaps = nlohmann::json::parse(env.Run({"--json", "list"}).out).at("wal").at("timelines")[0].at("gaps");
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].at("missing") == 1);
  }
  SUBCASE("stale archiving is an alert") {
    std::this_thread::sleep_for(2s);
    ProcessResult stale = env.Run({"status", "--max-wal-age", "1s"});
    CHECK(stale.exit_code == 5);
    CHECK(stale.out.find("archiving is stale") != std::string::npos);
  }
  SUBCASE("check --read-data decrypts every archived file; a flipped byte is named") {
    ProcessResult ok = env.Run({"check", "--read-data"});
    CHECK_MESSAGE(ok.exit_code == 0, ok.out << ok.err);
    const std::string object = ObjectOf(env, last);
    std::string bytes = ReadBytes(object);
    bytes[bytes.size() / 3] ^= 0x04;
    WriteBytes(object, bytes);
    ProcessResult bad = env.Run({"check", "--read-data"});
    CHECK(bad.exit_code == 3);
    CHECK(bad.out.find(fs::path(object).filename().string()) != std::string::npos);
  }
}

}  // namespace wal_archive_test
