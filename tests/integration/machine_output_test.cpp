// Issue 7 against a real server: output for machines (backup and prune --json), SIGINT/SIGTERM
// exit codes and "not attempted" databases, private export files that never overwrite, and a
// catalog that names the cure when it has lost track of a repository.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace machine_output_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void MakeSmallDatabase(PgCluster& cluster, const std::string& db) {
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db, "CREATE TABLE t(id int PRIMARY KEY, v text); "
                   "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
}

// Big enough that a backup is still running a moment after it logged "backing up".
const std::string& BigDatabase() {
  static const std::string name = [] {
    PgCluster& cluster = SharedCluster();
    const std::string db = "mo-big";
    cluster.DropDatabase(db);
    cluster.CreateDatabase(db);
    cluster.Psql(db, "CREATE TABLE big(id int, filler text); INSERT INTO big SELECT g, md5(g::text) || "
                     "md5((g * 7)::text) FROM generate_series(1, 600000) g");
    return db;
  }();
  return name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
  return st.st_mode & 07777;
}

nlohmann::json ParseStdout(const ProcessResult& r) {
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));  // the whole of stdout is one document
  return j;
}

// Sets the process umask for the lifetime of the object (children inherit it).
struct ScopedUmask {
  mode_t old;
  explicit ScopedUmask(mode_t m) : old(::umask(m)) {}
  ~ScopedUmask() { ::umask(old); }
};

}  // namespace

TEST_CASE("backup --json prints one document: databases, backup ids, status, sizes, durations") {
  PgCluster& cluster = SharedCluster();
  MakeSmallDatabase(cluster, "mo-json-a");
  MakeSmallDatabase(cluster, "mo-json-b");
  DhanbakEnv env({"mo-json-a", "mo-json-b"});
  env.InitFast();
  ProcessResult r = env.RunOk({"--json", "backup"});
  nlohmann::json j = ParseStdout(r);
  CHECK(j["command"] == "backup");
  CHECK(j["ok"] == true);
  CHECK(j["interrupted"].is_null());
  CHECK(j["counts"]["ok"] == 2);
  CHECK(j["counts"]["failed"] == 0);
  CHECK(j["counts"]["not_attempted"] == 0);
  CHECK(j["duration_seconds"].get<double>() >= 0);
  REQUIRE(j["databases"].size() == 2);
  int64_t logical_total = 0;
  for (const auto& d : j["databases"]) {
    CAPTURE(d.dump());
    CHECK(d["status"] == "ok");
    CHECK(d["tables"] == 1);
    CHECK(d["rows"] == 2000);
    CHECK(d["logical_bytes"].get<int64_t>() > 2000 * 30);
    CHECK(d["stored_bytes"].get<int64_t>() > 0);
    CHECK(d["new_chunks"].get<int64_t>() > 0);
    CHECK(d["duration_seconds"].get<double>() > 0);
    logical_total += d["logical_bytes"].get<int64_t>();
    // The id is the one the catalog knows.
    nlohmann::json listed = env.ListJson(d["database"].get<std::string>());
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["backup_id"] == d["backup_id"]);
  }
  CHECK(j["totals"]["logical_bytes"] == logical_total);

  // A database that does not exist: still one document, its status failed, exit 1.
  cluster.DropDatabase("mo-json-missing");
  ProcessResult failed = env.Run({"--json", "backup", "mo-json-a", "mo-json-missing"});
  CHECK(failed.exit_code == 1);
  nlohmann::json f = ParseStdout(failed);
  CHECK(f["ok"] == false);
  REQUIRE(f["databases"].size() == 2);
  CHECK(f["databases"][0]["status"] == "ok");
  CHECK(f["databases"][0]["rows"] == 2000);
  CHECK(f["databases"][0]["new_chunks"].is_number_integer());
  CHECK(f["databases"][1]["status"] == "failed");
  CHECK(!f["databases"][1]["error"].get<std::string>().empty());
  CHECK(f["counts"]["failed"] == 1);
}

TEST_CASE("prune --json prints what was deleted and kept, with counts and bytes") {
  PgCluster& cluster = SharedCluster();
  MakeSmallDatabase(cluster, "mo-prune");
  DhanbakEnv env({"mo-prune"});
  env.InitFast();
  {
    std::ofstream toml(env.config_path(), std::ios::app);
    toml << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
  }
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    cluster.Psql("mo-prune", "INSERT INTO t VALUES (" + std::to_string(100000 + i) + ", 'x')");
    ids.push_back(LoggedBackupId(env.RunOk({"backup"}).err, "mo-prune"));
    std::this_thread::sleep_for(1100ms);  // distinct snapshot times
  }
  nlohmann::json dry = ParseStdout(env.RunOk({"--json", "prune", "--dry-run"}));
  CHECK(dry["command"] == "prune");
  CHECK(dry["dry_run"] == true);
  CHECK(dry["counts"]["backups_deleted"] == 2);
  CHECK(dry["counts"]["backups_kept"] == 1);
  CHECK(env.ListJson("mo-prune").size() == 3);  // a dry run deletes nothing

  nlohmann::json j = ParseStdout(env.RunOk({"--json", "prune"}));
  CHECK(j["dry_run"] == false);
  CHECK(j["ok"] == true);
  CHECK(j["counts"]["backups_deleted"] == 2);
  CHECK(j["counts"]["backups_kept"] == 1);
  CHECK(j["counts"].contains("chunks_deleted"));
  CHECK(j["counts"]["bytes_freed"].get<int64_t>() >= 0);
  CHECK(j["retention"]["keep_last"] == 1);
  REQUIRE(j["deleted_backups"].size() == 2);
  REQUIRE(j["kept_backups"].size() == 1);
  CHECK(j["kept_backups"][0]["backup_id"] == ids[2]);
  std::vector<std::string> deleted = {j["deleted_backups"][0]["backup_id"], j["deleted_backups"][1]["backup_id"]};
  std::sort(deleted.begin(), deleted.end());
  CHECK(deleted == std::vector<std::string>{ids[0], ids[1]});
  CHECK(env.ListJson("mo-prune").size() == 1);
}

TEST_CASE("SIGINT exits 130 and SIGTERM 143 after clean-up; databases never reached are 'not attempted'") {
  PgCluster& cluster = SharedCluster();
  const std::string big = BigDatabase();
  MakeSmallDatabase(cluster, "mo-sig-a");
  MakeSmallDatabase(cluster, "mo-sig-b");
  DhanbakEnv env({big, "mo-sig-a", "mo-sig-b"});
  env.InitFast();
  for (int sig : {SIGINT, SIGTERM}) {
    CAPTURE(sig);
    BackgroundProcess p(env.Argv({"--json", "backup"}), env.Options());
    REQUIRE(p.WaitForOutput("backing up " + big + " as ", 60s));
    std::this_thread::sleep_for(200ms);
    REQUIRE_MESSAGE(p.Running(), "the backup finished before it could be interrupted");
    p.Signal(sig);
    ProcessResult r = p.Wait(60s);
    INFO("stderr:\n" << r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 128 + sig);
    CHECK(r.err.find("2 of 3 database(s) not attempted: mo-sig-a, mo-sig-b") != std::string::npos);
    CHECK(r.err.find("backup failed for 3") == std::string::npos);
    CHECK(r.err.find("backup failed for 1 of 3 database(s): " + big) != std::string::npos);
    nlohmann::json j = ParseStdout(r);
    CHECK(j["interrupted"] == (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    CHECK(j["counts"]["failed"] == 1);
    CHECK(j["counts"]["not_attempted"] == 2);
    REQUIRE(j["databases"].size() == 3);
    CHECK(j["databases"][0]["status"] == "failed");
    CHECK(j["databases"][1]["status"] == "not_attempted");
    CHECK(j["databases"][2]["status"] == "not_attempted");
    // The same clean-up as before: the interrupted backup is recorded failed, nothing for the others.
    nlohmann::json rows = env.ListJson();
    for (const auto& row : rows) CHECK(row["status"] == "failed");
    CHECK(env.ListJson("mo-sig-a").empty());
  }
}

TEST_CASE("export -o FILE is 0600 under umask 022 and never overwrites without --force") {
  PgCluster& cluster = SharedCluster();
  MakeSmallDatabase(cluster, "mo-export");
  DhanbakEnv env({"mo-export"});
  env.InitFast();
  env.RunOk({"backup"});
  ScopedUmask mask(022);
  const std::string out = env.dir() + "/mo-export.sql";
  env.RunOk({"export", "mo-export", "-o", out});
  CHECK(ModeOf(out) == 0600);
  CHECK(ReadFile(out).rfind("--\n-- dhanbak export of database mo-export", 0) == 0);

  const std::string precious = env.dir() + "/precious.sql";
  {
    std::ofstream(precious) << "my own notes\n";
  }
  ProcessResult refused = env.Run({"export", "mo-export", "-o", precious});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("already exists; pass --force") != std::string::npos);
  CHECK(ReadFile(precious) == "my own notes\n");
  // No temporary file left behind either.
  for (const auto& e : fs::directory_iterator(env.dir())) CHECK(e.path().filename().string().find(".dhanbak-") == std::string::npos);

  env.RunOk({"export", "mo-export", "-o", precious, "--force"});
  CHECK(ModeOf(precious) == 0600);
  CHECK(ReadFile(precious).rfind("--\n-- dhanbak export of database mo-export", 0) == 0);
  CHECK(env.RunOk({"export", "--help"}).out.find("--force") != std::string::npos);
}

TEST_CASE("equivalent file:// urls are one repository; an empty catalog points to catalog rebuild") {
  PgCluster& cluster = SharedCluster();
  MakeSmallDatabase(cluster, "mo-url");
  DhanbakEnv env({"mo-url"});
  env.InitFast();
  const std::string id = LoggedBackupId(env.RunOk({"backup"}).err, "mo-url");
  REQUIRE(!id.empty());
  const std::string repo = env.repo_dir();
  const std::string parent = fs::path(repo).parent_path().string();
  const std::string leaf = fs::path(repo).filename().string();
  for (const std::string& url : std::vector<std::string>{"file://" + repo + "/", "file://" + parent + "//" + leaf + "/.",
                                "file://" + parent + "/../" + fs::path(parent).filename().string() + "/" + leaf}) {
    CAPTURE(url);
    nlohmann::json j = ParseStdout(env.RunOk({"--repo", url, "--json", "list"}));
    CHECK(j["repository"] == "file://" + repo);
    REQUIRE(j["backups"].size() == 1);
    CHECK(j["backups"][0]["backup_id"] == id);
  }

  // The catalog is lost: list finds nothing, and says what to do about it.
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(env.catalog_path() + suffix);
  ProcessResult r = env.RunOk({"list"});
  CHECK(r.out.find("no backups") != std::string::npos);
  CHECK_MESSAGE(r.err.find("run `dhanbak catalog rebuild`") != std::string::npos, r.err);
  env.RunOk({"catalog", "rebuild"});
  ProcessResult after = env.RunOk({"list"});
  CHECK(after.out.find(id) != std::string::npos);
  CHECK(after.err.find("catalog rebuild") == std::string::npos);
}

TEST_CASE("verify --json interrupted by SIGINT: exit 130, one document, later databases not attempted") {
  PgCluster& cluster = SharedCluster();
  const std::string big = BigDatabase();
  MakeSmallDatabase(cluster, "mo-verify-b");
  DhanbakEnv env({big, "mo-verify-b"});
  env.InitFast();
  env.RunOk({"backup"});
  BackgroundProcess p(env.Argv({"--json", "-v", "verify", "--all"}), env.Options());
  REQUIRE_MESSAGE(p.WaitForOutput("loading", 60s), p.Stderr());
  std::this_thread::sleep_for(100ms);
  REQUIRE_MESSAGE(p.Running(), "verify finished before it could be interrupted");
  p.Signal(SIGINT);
  ProcessResult r = p.Wait(60s);
  INFO("stderr:\n" << r.err);
  CHECK(r.exit_code == 130);
  nlohmann::json j = ParseStdout(r);
  REQUIRE(j["verifications"].size() == 2);
  CHECK(j["verifications"][0]["database"] == big);
  CHECK(j["verifications"][0]["status"] == "failed");
  CHECK(j["verifications"][1]["database"] == "mo-verify-b");
  CHECK(j["verifications"][1]["status"] == "not_attempted");
}

TEST_CASE("init, key add/list/remove, catalog rebuild and export print one JSON document with --json") {
  PgCluster& cluster = SharedCluster();
  MakeSmallDatabase(cluster, "mo-json-admin");
  DhanbakEnv env({"mo-json-admin"});
  nlohmann::json init = ParseStdout(env.RunOk({"--json", "init", "--allow-weak-passphrase"}));
  CHECK(init["repository_id"].get<std::string>().size() == 32);
  CHECK_FALSE(init["key_id"].get<std::string>().empty());
  env.RunOk({"backup"});

  ProcessOptions with_new = env.Options();
  with_new.env.emplace_back("MO_NEW_PASSPHRASE", "another long passphrase");
  std::vector<std::string> add = env.Argv({"--json", "key", "add", "--new-passphrase", "env:MO_NEW_PASSPHRASE"});
  nlohmann::json added = ParseStdout(RunProcess(add, with_new));
  const std::string new_id = added["added_key"];
  nlohmann::json keys = ParseStdout(env.RunOk({"--json", "key", "list"}));
  REQUIRE(keys["keys"].size() == 2);
  int current = 0;
  for (const auto& k : keys["keys"]) current += k["current"].get<bool>() ? 1 : 0;
  CHECK(current == 1);
  nlohmann::json removed = ParseStdout(env.RunOk({"--json", "key", "remove", new_id}));
  CHECK(removed["removed_key"] == new_id);

  nlohmann::json rebuilt = ParseStdout(env.RunOk({"--json", "catalog", "rebuild"}));
  CHECK(rebuilt["backups"] == 1);
  CHECK(rebuilt["ok"] == true);

  const std::string file = env.dir() + "/admin.sql";
  nlohmann::json exported = ParseStdout(env.RunOk({"--json", "export", "mo-json-admin", "-o", file}));
  CHECK(exported["output"] == file);
  CHECK(fs::exists(file));
  ProcessResult to_stdout = env.Run({"--json", "export", "mo-json-admin", "-o", "-"});
  CHECK(to_stdout.exit_code == 2);
  CHECK(to_stdout.out.empty());
  cluster.DropDatabase("mo-json-admin");
}

}  // namespace machine_output_test
