// Failures an operator meets at 3 a.m. (design §1, §2): a wrong passphrase, a corrupted object
// in the repository, a backup killed half-way (SIGTERM and SIGKILL), two runs at once, a
// database that does not exist. Each must end with the documented exit code and a message that
// names the problem, and must never leave anything a restore would pick or a half-built
// database behind.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "format/repository.hpp"
#include "storage/local/local_storage.hpp"
#include "catalog/sqlite.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace failure_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kPassphrase = "integration test passphrase";

// A small database with a marker row (which state was restored) and a few thousand rows.
void MakeSmallDatabase(PgCluster& cluster, const std::string& db, int version = 1) {
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db, "CREATE TABLE marker(version int NOT NULL); INSERT INTO marker VALUES (" + std::to_string(version) +
                       "); CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g");
}

// Rows of poorly compressible text: ~75 bytes each, so 700k rows are ~50 MB of COPY text, which
// takes long enough to back up that a signal lands in the middle.
constexpr int kBigRows = 700000;
std::string BigInsertSql(const std::string& table) {
  return "INSERT INTO " + table + " SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, " +
         std::to_string(kBigRows) + ") g";
}

// One ~50 MB database for the tests that need a backup to be running for a while.
const std::string& BigDatabase() {
  static const std::string name = [] {
    PgCluster& cluster = SharedCluster();
    const std::string db = "fail-big";
    cluster.DropDatabase(db);
    cluster.CreateDatabase(db);
    cluster.Psql(db, "CREATE TABLE big(id int, filler text); " + BigInsertSql("big"));
    return db;
  }();
  return name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

nlohmann::json FindBackup(const nlohmann::json& backups, const std::string& id) {
  for (const auto& b : backups)
    if (b["backup_id"] == id) return b;
  return nullptr;
}

// Starts `backup DBS...` in the background and waits until it has begun backing up `db` (its
// catalog row exists from that log line on) and has had a moment to get into the COPY.
std::unique_ptr<BackgroundProcess> StartBackup(const DhanbakEnv& env, const std::vector<std::string>& dbs,
                                               const std::string& db, std::chrono::milliseconds settle) {
  std::vector<std::string> args = {"backup"};
  args.insert(args.end(), dbs.begin(), dbs.end());
  auto p = std::make_unique<BackgroundProcess>(env.Argv(args), env.Options());
  bool started = p->WaitForOutput("backing up " + db + " as ", 60s);
  INFO("stderr so far:\n" << p->Stderr());
  REQUIRE(started);
  std::this_thread::sleep_for(settle);
  REQUIRE_MESSAGE(p->Running(), "the backup finished before it could be interrupted; make the database bigger");
  return p;
}

// Server backends exit a moment after their client goes away; wait for that.
int ConnectionsTo(PgCluster& cluster, const std::string& db) {
  int n = 0;
  for (int i = 0; i < 50; ++i) {
    n = std::stoi(cluster.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = " + QuoteLiteral(db)));
    if (n == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  return n;
}

}  // namespace

TEST_CASE("a wrong passphrase exits 2 with 'wrong passphrase' and changes nothing") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "fail-passphrase";
  MakeSmallDatabase(cluster, db);
  DhanbakEnv env({db}, kPassphrase);
  // The real init, at the default scrypt cost (the suite weakens it everywhere else): the
  // passphrase check must work on what it writes.
  ProcessOptions real_kdf = env.Options();
  real_kdf.unset_env.push_back("DHANBAK_TESTONLY_WEAKEN_KDF");
  ProcessResult init = RunProcess(env.Argv({"init"}), real_kdf);
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  CHECK(init.err.find("TESTONLY") == std::string::npos);
  auto key_costs = [&] {
    std::multiset<uint64_t> costs;
    for (const auto& key : fs::directory_iterator(env.repo_dir() + "/keys")) {
      std::ifstream in(key.path());
      costs.insert(nlohmann::json::parse(in).at("n").get<uint64_t>());
    }
    return costs;
  };
  CHECK(key_costs() == std::multiset<uint64_t>{1u << 17});
  // With the suite's DHANBAK_TESTONLY_WEAKEN_KDF=1, a new key is cheap, and the run says so.
  ProcessOptions weak = env.Options();
  weak.env.emplace_back("SECOND_KEY", "a second passphrase, for the weakened key");
  ProcessResult added = RunProcess(env.Argv({"key", "add", "--new-passphrase", "env:SECOND_KEY"}), weak);
  REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  CHECK(added.err.find("DHANBAK_TESTONLY_WEAKEN_KDF=1") != std::string::npos);
  CHECK(key_costs() == std::multiset<uint64_t>{1u << 10, 1u << 17});
  env.RunOk({"backup"});
  const std::string repo_before = std::to_string(std::distance(fs::recursive_directory_iterator(env.repo_dir()),
                                                               fs::recursive_directory_iterator()));

  env.SetPassphrase("not the passphrase");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"backup"},
        std::vector<std::string>{"restore", db, "--at", "latest", "--target-db", "fail-passphrase-restored"}}) {
    CAPTURE(args[0]);
    ProcessResult r = env.Run(args);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find("wrong passphrase") != std::string::npos, r.err);
    CHECK(r.err.find("not the passphrase") == std::string::npos);  // never echo the secret
  }
  CHECK_FALSE(cluster.DatabaseExists("fail-passphrase-restored"));
  // Nothing was written to the repository. The failed night is recorded as a failed backup (so
  // `status` and `list` show it), and the good backup is still the one restore picks.
  CHECK(std::to_string(std::distance(fs::recursive_directory_iterator(env.repo_dir()),
                                     fs::recursive_directory_iterator())) == repo_before);
  nlohmann::json backups = env.ListJson();
  REQUIRE(backups.size() == 2);
  CHECK(backups[0]["status"] == "failed");
  CHECK(backups[0]["error"].get<std::string>().find("wrong passphrase") != std::string::npos);
  CHECK(backups[1]["status"] == "ok");

  // The right passphrase still works.
  env.SetPassphrase(kPassphrase);
  env.RunOk({"restore", db, "--at", "latest", "--target-db", "fail-passphrase-restored"});
  CHECK(cluster.Psql("fail-passphrase-restored", "SELECT count(*) FROM filler") == "3000");
  cluster.DropDatabase("fail-passphrase-restored");
}

TEST_CASE("a corrupted chunk makes restore exit 3 naming the object, and the target is dropped") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "fail-corrupt";
  MakeSmallDatabase(cluster, db);
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  ProcessResult backup = env.RunOk({"backup"});
  const std::string backup_id = LoggedBackupId(backup.err, db);
  REQUIRE(!backup_id.empty());

  // Find the chunks of table 'filler' through the manifest, as a restore would.
  dhanbak::storage::LocalStorage storage(env.repo_dir());
  auto repo = dhanbak::format::Repository::Open(storage, kPassphrase);
  dhanbak::format::Manifest manifest = repo->GetManifest(backup_id);
  std::vector<std::string> filler_chunks, marker_chunks;
  for (const auto& t : manifest.tables) {
    if (t.name == "filler") filler_chunks = t.data.chunks;
    if (t.name == "marker") marker_chunks = t.data.chunks;
  }
  REQUIRE(!filler_chunks.empty());
  REQUIRE(!marker_chunks.empty());
  const std::string name = dhanbak::format::Repository::ChunkName(filler_chunks[0]);
  const std::string path = env.repo_dir() + "/" + name;
  REQUIRE(fs::exists(path));
  const std::string original = ReadFile(path);
  const std::string target = "fail-corrupt-restored";

  std::string flipped = original;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"a flipped bit in the ciphertext", flipped},
      {"another chunk's file in its place",
       ReadFile(env.repo_dir() + "/" + dhanbak::format::Repository::ChunkName(marker_chunks[0]))},
      {"a truncated file", original.substr(0, original.size() - 7)},
  };
  for (const auto& [what, bytes] : damages) {
    CAPTURE(what);
    WriteFile(path, bytes);
    cluster.DropDatabase(target);
    ProcessResult r = env.Run({"restore", db, "--at", "latest", "--target-db", target});
    CHECK(r.exit_code == 3);
    CHECK_MESSAGE(r.err.find(name) != std::string::npos, "stderr does not name " << name << ":\n" << r.err);
    CHECK_FALSE(cluster.DatabaseExists(target));
  }

  // Repaired, the same backup restores again.
  WriteFile(path, original);
  env.RunOk({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(cluster.Psql(target, "SELECT count(*) FROM filler") == "3000");
  cluster.DropDatabase(target);
}

TEST_CASE("a corrupted manifest makes restore exit 3 naming it") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "fail-manifest";
  MakeSmallDatabase(cluster, db);
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  const std::string id = LoggedBackupId(env.RunOk({"backup"}).err, db);
  const std::string path = env.repo_dir() + "/manifests/" + id;
  REQUIRE(fs::exists(path));
  std::string bytes = ReadFile(path);
  bytes[bytes.size() - 3] = static_cast<char>(bytes[bytes.size() - 3] ^ 0x80);
  WriteFile(path, bytes);
  ProcessResult r = env.Run({"restore", db, "--at", "latest", "--target-db", "fail-manifest-restored"});
  CHECK(r.exit_code == 3);
  CHECK_MESSAGE(r.err.find("manifests/" + id) != std::string::npos, r.err);
  CHECK_FALSE(cluster.DatabaseExists("fail-manifest-restored"));
}

TEST_CASE("a backup interrupted with SIGTERM is marked failed, has no manifest, and is never restored") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "fail-term";
  MakeSmallDatabase(cluster, db, 1);
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  const std::string good_id = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!good_id.empty());

  // Then the database is replaced by a big one (so the next backup has real work to interrupt):
  // a copy of the shared big database, without the marker table.
  const std::string& big = BigDatabase();
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db, "TEMPLATE " + QuoteIdent(big));
  auto p = StartBackup(env, {db}, db, 300ms);
  const std::string killed_id = LoggedBackupId(p->Stderr(), db);
  REQUIRE(!killed_id.empty());
  p->Signal(SIGTERM);
  ProcessResult r = p->Wait(60s);
  INFO("stderr:\n" << r.err);
  CHECK_FALSE(r.timed_out);
  // It unwound through its clean-up (checked below), then exited 143 (128 + SIGTERM) as shells
  // and service managers expect of a run ended by SIGTERM.
  CHECK(r.exit_code == 128 + SIGTERM);

  nlohmann::json killed = FindBackup(env.ListJson(db), killed_id);
  REQUIRE(!killed.is_null());
  CHECK(killed["status"] == "failed");
  CHECK(!killed["error"].get<std::string>().empty());
  CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests/" + killed_id));
  CHECK(fs::exists(env.repo_dir() + "/manifests/" + good_id));
  // Its server sessions are gone too (no transaction left holding the snapshot).
  CHECK(ConnectionsTo(cluster, db) == 0);

  const std::string target = "fail-term-restored";
  cluster.DropDatabase(target);
  ProcessResult restore = env.RunOk({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(restore.out.find(good_id) != std::string::npos);
  CHECK(restore.out.find(killed_id) == std::string::npos);
  CHECK(cluster.Psql(target, "SELECT version FROM marker") == "1");
  CHECK(cluster.Psql(target, "SELECT count(*) FROM filler") == "3000");
  CHECK(cluster.Psql(target, "SELECT count(*) FROM pg_tables WHERE tablename = 'big'") == "0");
  cluster.DropDatabase(target);
  ProcessResult by_id = env.Run({"restore", db, "--backup", killed_id, "--target-db", target});
  CHECK(by_id.exit_code != 0);
  CHECK_FALSE(cluster.DatabaseExists(target));
}

TEST_CASE("a run that died between storing the manifest and updating the catalog: the next run records it as good") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "fail-catalog-gap";
  MakeSmallDatabase(cluster, db, 1);
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  const std::string id = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!id.empty());
  REQUIRE(fs::exists(env.repo_dir() + "/manifests/" + id));
  {
    // What a crash right after the manifest was stored leaves in the catalog.
    dhanbak::catalog::sqlite::Database catalog(env.catalog_path());
    catalog.Exec("UPDATE backups SET status = 'running', manifest_name = '' WHERE backup_id = '" + id + "'");
  }
  ProcessResult next = env.Run({"backup"});
  CHECK_MESSAGE(next.exit_code == 0, next.err);
  CHECK(next.err.find("backup " + id + " of " + db + " had been stored completely") != std::string::npos);
  nlohmann::json rec = FindBackup(env.ListJson(db), id);
  REQUIRE(!rec.is_null());
  CHECK(rec["status"] == "ok");
  const std::string target = "fail-catalog-gap-restored";
  cluster.DropDatabase(target);
  env.RunOk({"restore", db, "--backup", id, "--target-db", target});
  CHECK(cluster.Psql(target, "SELECT version FROM marker") == "1");
  cluster.DropDatabase(target);
}

TEST_CASE("a backup whose terminal goes away (SIGHUP) cleans up like SIGTERM and exits 129") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "fail-hup";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db, "TEMPLATE " + QuoteIdent(BigDatabase()));
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  auto p = StartBackup(env, {db}, db, 300ms);
  const std::string id = LoggedBackupId(p->Stderr(), db);
  REQUIRE(!id.empty());
  p->Signal(SIGHUP);
  ProcessResult r = p->Wait(60s);
  INFO("stderr:\n" << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 128 + SIGHUP);
  CHECK(r.err.find("backup of fail-hup failed") != std::string::npos);
  nlohmann::json killed = FindBackup(env.ListJson(db), id);
  REQUIRE(!killed.is_null());
  CHECK(killed["status"] == "failed");
  CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests/" + id));
  CHECK(ConnectionsTo(cluster, db) == 0);
  cluster.DropDatabase(db);
}

TEST_CASE("a backup killed with SIGKILL stays 'running' until the next run marks it failed; never restorable") {
  PgCluster& cluster = SharedCluster();
  const std::string big = BigDatabase();
  const std::string small = "fail-kill-small";
  MakeSmallDatabase(cluster, small);
  DhanbakEnv env({big, small}, kPassphrase);
  env.InitFast();

  auto p = StartBackup(env, {big}, big, 300ms);
  const std::string killed_id = LoggedBackupId(p->Stderr(), big);
  REQUIRE(!killed_id.empty());
  p->Signal(SIGKILL);
  ProcessResult r = p->Wait(30s);
  CHECK(r.exit_code == 128 + SIGKILL);

  nlohmann::json row = FindBackup(env.ListJson(), killed_id);
  REQUIRE(!row.is_null());
  CHECK(row["status"] == "running");  // nobody could record anything else
  CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests/" + killed_id));

  const std::string target = "fail-kill-restored";
  cluster.DropDatabase(target);
  ProcessResult latest = env.Run({"restore", big, "--at", "latest", "--target-db", target});
  CHECK(latest.exit_code != 0);
  CHECK_FALSE(cluster.DatabaseExists(target));
  ProcessResult by_id = env.Run({"restore", big, "--backup", killed_id, "--target-db", target});
  CHECK(by_id.exit_code != 0);
  CHECK_FALSE(cluster.DatabaseExists(target));

  // The next backup run notices the stale row and marks it failed.
  ProcessResult next = env.RunOk({"backup", small});
  CHECK_MESSAGE(next.err.find("interrupted") != std::string::npos, next.err);
  row = FindBackup(env.ListJson(), killed_id);
  REQUIRE(!row.is_null());
  CHECK(row["status"] == "failed");
  CHECK(row["error"].get<std::string>().find("interrupted") != std::string::npos);
  CHECK_FALSE(fs::exists(env.repo_dir() + "/manifests/" + killed_id));
  ProcessResult still = env.Run({"restore", big, "--backup", killed_id, "--target-db", target});
  CHECK(still.exit_code != 0);
  CHECK_FALSE(cluster.DatabaseExists(target));
}

TEST_CASE("a second backup while one is running exits 4 naming the lock") {
  PgCluster& cluster = SharedCluster();
  const std::string big = BigDatabase();
  const std::string small = "fail-lock-small";
  MakeSmallDatabase(cluster, small);
  DhanbakEnv env({big, small}, kPassphrase);
  env.InitFast();

  auto p = StartBackup(env, {big}, big, 100ms);
  ProcessResult second = env.Run({"backup", small});
  CHECK(second.exit_code == 4);
  CHECK_MESSAGE(second.err.find("lock") != std::string::npos, second.err);
  // The refused run touched nothing: no backup of the small database was recorded.
  p->Signal(SIGTERM);
  ProcessResult first = p->Wait(60s);
  CHECK_FALSE(first.timed_out);
  nlohmann::json backups = env.ListJson(small);
  CHECK(backups.empty());
  // Once the first run is over, the lock is free again.
  env.RunOk({"backup", small});
  CHECK(env.ListJson(small).size() == 1);
}

TEST_CASE("a database that does not exist fails the run (exit 1) but the others are backed up") {
  PgCluster& cluster = SharedCluster();
  const std::string a = "fail-missing-a", b = "fail-missing-b", missing = "fail-no-such-db";
  MakeSmallDatabase(cluster, a, 1);
  MakeSmallDatabase(cluster, b, 2);
  cluster.DropDatabase(missing);
  DhanbakEnv env({a, missing, b}, kPassphrase);
  env.InitFast();
  ProcessResult r = env.Run({"backup"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find(missing) != std::string::npos, r.err);
  nlohmann::json backups = env.ListJson();
  for (const std::string& db : {a, b}) {
    CAPTURE(db);
    int ok = 0;
    for (const auto& x : backups) ok += x["database"] == db && x["status"] == "ok";
    CHECK(ok == 1);
  }
  for (const auto& x : backups) {
    if (x["database"] == missing) CHECK(x["status"] == "failed");
  }
  // The good ones restore.
  cluster.DropDatabase("fail-missing-b-restored");
  env.RunOk({"restore", b, "--at", "latest", "--target-db", "fail-missing-b-restored"});
  CHECK(cluster.Psql("fail-missing-b-restored", "SELECT version FROM marker") == "2");
  cluster.DropDatabase("fail-missing-b-restored");
}

}  // namespace failure_test
