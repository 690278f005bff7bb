// Restores that can never be left half-done or refused too late (issue 7):
//  - restore --target-db killed with SIGKILL mid-load leaves nothing under the target's name;
//    the leftover (temporary name) is reported by status and removed, with the killed run's
//    temporary directory, by the next restore of the same target;
//  - --replace refuses connected sessions before restoring anything;
//  - temporary and kept-aside names always fit PostgreSQL's 63 bytes, for names of 1 to 63
//    bytes with quotes, spaces and non-ASCII characters, also on a second --replace;
//  - --json prints one JSON document.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/db_compare.hpp"
#include "support/dhanbak_workdir.hpp"
#include "support/paused_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace restore_atomic_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kBig = "atomic_src";

bool Contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

std::vector<std::string> TempDirsOf(const std::string& dir, pid_t pid) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("dhanbak-" + std::to_string(pid) + "-")) out.push_back(name);
  }
  return out;
}

struct AtomicFixture {
  PgCluster& cluster = SharedCluster();
  std::unique_ptr<DhanbakWorkdir> work;
  AtomicFixture() {
    cluster.CreateDatabase(kBig);
    // Big enough that loading takes a moment on a fast machine.
    cluster.Psql(kBig, R"sql(
      CREATE TABLE a (id int PRIMARY KEY, payload text);
      INSERT INTO a SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 250000) g;
      CREATE TABLE b (id int, note text);
      INSERT INTO b SELECT g, md5(g::text) FROM generate_series(1, 250000) g;)sql");
    work = std::make_unique<DhanbakWorkdir>(cluster, WorkdirOptions{{kBig}, 2, ""});
    work->RunOk({"init"});
    work->RunOk({"backup"});
  }
};

AtomicFixture& Shared() {
  static AtomicFixture f;
  return f;
}

}  // namespace

TEST_CASE("restore --target-db killed with SIGKILL leaves nothing under the target name; the next restore cleans up") {
  AtomicFixture& f = Shared();
  const std::string target = "atomic target";
  const std::string tmp = f.work->dir() + "/tmp";
  fs::create_directories(tmp);
  ProcessOptions opts;
  opts.env.emplace_back("TMPDIR", tmp);

  BackgroundProcess p(f.work->Argv({"restore", kBig, "--target-db", target, "--jobs", "2"}), opts);
  // Wait until rows are being loaded into the temporary database, then kill.
  bool loading = false;
  for (int i = 0; i < 600 && !loading; ++i) {
    std::this_thread::sleep_for(20ms);
    std::string n = f.cluster.Psql("postgres",
                                   "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'dhanbak\\_restoring\\_%' "
                                   "AND query LIKE 'COPY%'");
    loading = n != "0";
  }
  REQUIRE_MESSAGE(loading, "the restore never reached the load: " << p.Stderr());
  p.Signal(SIGKILL);
  p.Wait(30s);
  // The server ends the killed run's sessions when it notices their sockets closed, a moment
  // later; until then the database is in use, and in use is not a leftover.
  WaitForSql(f.cluster,
             "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'dhanbak\\_restoring\\_%'", "0", 30s);

  CHECK_FALSE(f.cluster.DatabaseExists(target));
  std::string leftovers = f.cluster.Psql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'dhanbak\\_restoring\\_%'");
  REQUIRE_FALSE(leftovers.empty());
  CHECK(leftovers.size() <= 63);
  CHECK_FALSE(TempDirsOf(tmp, p.pid()).empty());  // the killed run's private directory

  ProcessResult status = f.work->Run({"status"});
  CHECK_MESSAGE(Contains(status.out, "leftover: database " + leftovers), Describe(status));
  ProcessResult js = f.work->Run({"--json", "status"});
  auto doc = nlohmann::json::parse(js.out);
  REQUIRE(doc["leftovers"].size() == 1);
  CHECK(doc["leftovers"][0]["database"] == leftovers);
  CHECK(doc["leftovers"][0]["kind"] == "restore");

  ProcessResult again = f.work->Run({"restore", kBig, "--target-db", target}, opts);
  REQUIRE_MESSAGE(again.exit_code == 0, Describe(again));
  CHECK(Contains(again.err, "removed " + leftovers));
  CHECK(f.cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dhanbak\\_restoring\\_%'") == "0");
  CHECK(TempDirsOf(tmp, p.pid()).empty());
  CompareResult cmp = CompareDatabases(f.cluster, kBig, target);
  CHECK_MESSAGE(cmp.equal, cmp.Summary());
  f.cluster.DropDatabase(target);
}

TEST_CASE("a restored table that differs from the backup fails the verification: exit 3, the table named, nothing left") {
  // A row changed in the database being built, between its load and its indexes: what the
  // verification's read-back is there to catch.
  AtomicFixture& f = Shared();
  const std::string pause_dir = f.work->dir() + "/pause-tampered";
  fs::create_directories(pause_dir);
  ProcessOptions opts;
  opts.env = {{"DHANBAK_TEST_PAUSE", "restore-post-data"}, {"DHANBAK_TEST_PAUSE_DIR", pause_dir}};
  BackgroundProcess p(f.work->Argv({"restore", kBig, "--target-db", "atomic_tampered", "--jobs", "2"}), opts);
  REQUIRE_MESSAGE(WaitForPausePoint(pause_dir, "restore-post-data", p, 30s), "never reached post-data: " << p.Stderr());
  const std::string building =
      f.cluster.Psql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'dhanbak\\_restoring\\_%'");
  REQUIRE_FALSE(building.empty());
  f.cluster.Psql(building, "UPDATE b SET note = 'not what was backed up' WHERE id = 4242");
  ContinueFromPausePoint(pause_dir, "restore-post-data");
  ProcessResult r = p.Wait(120s);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(Contains(r.err, "table public.b: content differs (SHA-256 mismatch)"));
  CHECK(Contains(r.err, "found differences"));
  CHECK_FALSE(Contains(r.err, "table public.a:"));
  CHECK_FALSE(f.cluster.DatabaseExists("atomic_tampered"));
  CHECK(f.cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dhanbak\\_restoring\\_%'") ==
        "0");
}

TEST_CASE("restore --target-db of an existing database and of a name over 63 bytes fail at once") {
  AtomicFixture& f = Shared();
  ProcessResult exists = f.work->Run({"restore", kBig, "--target-db", kBig});
  CHECK(exists.exit_code == 2);
  CHECK(Contains(exists.err, "already exists"));
  ProcessResult too_long = f.work->Run({"restore", kBig, "--target-db", std::string(64, 'x')});
  CHECK(too_long.exit_code == 2);
  CHECK(Contains(too_long.err, "64 bytes long; PostgreSQL allows at most 63"));
}

TEST_CASE("restore --replace refuses connected sessions before restoring anything") {
  AtomicFixture& f = Shared();
  BackgroundProcess session({f.cluster.Tool("psql"), "-X", "-d", f.cluster.Conninfo(kBig), "-c", "SELECT pg_sleep(60)"});
  bool connected = false;
  for (int i = 0; i < 200 && !connected; ++i) {
    std::this_thread::sleep_for(50ms);
    connected = f.cluster.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + kBig + "'") != "0";
  }
  REQUIRE(connected);
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = f.work->Run({"restore", kBig, "--replace", "--yes"});
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(Contains(r.err, "other session(s) are connected to " + kBig), Describe(r));
  CHECK(Contains(r.err, "nothing was restored"));
  CHECK_FALSE(Contains(r.err, "loading"));  // refused before the restore began
  CHECK(took < 20s);
  CHECK(f.cluster.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dhanbak\\_restoring\\_%'") == "0");
}

TEST_CASE("--replace with names of 1 to 63 bytes: temporary and kept-aside names fit, twice") {
  PgCluster& cluster = Shared().cluster;
  const std::vector<std::string> names = {
      "q",
      std::string("it's a \"quoted\" name with spaces ") + std::string(7, 'x'),    // 40 bytes
      "caf\xc3\xa9_" + std::string(54, 'n'),                                        // 60 bytes
      "\xe0\xa4\xa7\xe0\xa4\xa8" + std::string(" \"db\" ") + std::string(51, 'z'),  // 63 bytes
  };
  for (const auto& name : names) {
    CAPTURE(name);
    CAPTURE(name.size());
    REQUIRE(name.size() <= 63);
    cluster.CreateDatabase(name);
    cluster.Psql(name, "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);");
    DhanbakWorkdir work(cluster, WorkdirOptions{{name}, 2, ""});
    work.RunOk({"init"});
    work.RunOk({"backup"});
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      if (round == 1) std::this_thread::sleep_for(1100ms);  // a new timestamp for the aside name
      ProcessResult r = work.Run({"restore", name, "--replace", "--yes"});
      REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
      size_t at = r.out.find("the previous database was kept as ");
      REQUIRE(at != std::string::npos);
      std::string aside = r.out.substr(at + 34);
      aside = aside.substr(0, aside.find('\n'));
      CHECK(aside.size() <= 63);
      CHECK(cluster.DatabaseExists(aside));  // the name reported is the real one
      CHECK(cluster.Psql(name, "SELECT count(*) FROM t") == "2");
      cluster.DropDatabase(aside);
    }
    cluster.DropDatabase(name);
  }
}

TEST_CASE("restore --json prints one JSON document") {
  AtomicFixture& f = Shared();
  ProcessResult r = f.work->Run({"--json", "restore", kBig, "--target-db", "atomic_json"});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["database"] == kBig);
  CHECK(doc["target"] == "atomic_json");
  CHECK(doc["verified"] == true);
  CHECK(doc["ok"] == true);
  CHECK(doc["tables"].size() == 2);
  CHECK(doc["backup_id"].get<std::string>().size() > 10);
  // Where the time went, phase by phase, ending with the verification.
  REQUIRE(doc["phases"].size() == 6);
  CHECK(doc["phases"][2]["phase"] == "load table data");
  CHECK(doc["phases"][5]["phase"] == "verification");
  double sum = 0;
  for (const auto& p : doc["phases"]) sum += p["seconds"].get<double>();
  CHECK(sum > 0);
  CHECK(sum <= doc["duration_seconds"].get<double>());
  CHECK(r.err.find("restore phases: fetch schema archive") != std::string::npos);
  f.cluster.DropDatabase("atomic_json");
}

}  // namespace restore_atomic_test
