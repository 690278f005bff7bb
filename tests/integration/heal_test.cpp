// Corruption heals, not spread (issue 7): a chunk that any reader found corrupted is never
// deduplicated against again, so the next backup stores a good copy and is restorable (and so
// are the older backups that need the same data); `check --read-data` names the damaged backups
// and which of them the next backup repairs. A backup whose manifest vanished from storage is
// named by `check`, `status` and `restore`, and restore points at the newest older intact one.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "format/repository.hpp"
#include "storage/local/local_storage.hpp"
#include "support/db_compare.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace heal_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
namespace fs = std::filesystem;

namespace {

const std::string kPassphrase = "integration test passphrase";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The chunk ids of table `table` in backup `backup_id`, read through the manifest.
std::vector<std::string> TableChunks(const DhanbakEnv& env, const std::string& backup_id, const std::string& table) {
  dhanbak::storage::LocalStorage storage(env.repo_dir());
  auto repo = dhanbak::format::Repository::Open(storage, kPassphrase);
  for (const auto& t : repo->GetManifest(backup_id).tables) {
    if (t.name == table) return t.data.chunks;
  }
  return {};
}

// Flips one bit in the middle of the stored chunk; returns its object name.
std::string FlipChunk(const DhanbakEnv& env, const std::string& chunk_id) {
  const std::string name = dhanbak::format::Repository::ChunkName(chunk_id);
  const std::string path = env.repo_dir() + "/" + name;
  REQUIRE(fs::exists(path));
  std::string bytes = ReadFile(path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  WriteFile(path, bytes);
  return name;
}

}  // namespace

TEST_CASE("a chunk found corrupted by restore, verify or export is stored again by the next backup, which restores and verifies") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "heal-chunk";
  const std::string target = "heal-chunk-restored";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db, "CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g");
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  const std::string first = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!first.empty());
  auto chunks = TableChunks(env, first, "filler");
  REQUIRE(chunks.size() == 1);
  const std::string name = FlipChunk(env, chunks[0]);
  const std::string damaged_bytes = ReadFile(env.repo_dir() + "/" + name);

  // Whichever command finds the damage remembers it.
  SUBCASE("found by restore") {
    cluster.DropDatabase(target);
    ProcessResult restore = env.Run({"restore", db, "--at", "latest", "--target-db", target});
    CHECK(restore.exit_code == 3);
    CHECK_MESSAGE(restore.err.find(name) != std::string::npos, restore.err);
    CHECK_FALSE(cluster.DatabaseExists(target));
  }
  SUBCASE("found by verify") {
    ProcessResult verify = env.Run({"verify", db});
    CHECK(verify.exit_code == 3);
    CHECK_MESSAGE(verify.out.find(name) != std::string::npos, verify.out << verify.err);
  }
  SUBCASE("found by export") {
    ProcessResult exported = env.Run({"export", db, "-o", env.dir() + "/dump.sql"});
    CHECK(exported.exit_code == 3);
    CHECK_MESSAGE(exported.err.find(name) != std::string::npos, exported.err);
  }

  // The same data comes by again: the next backup must not trust the damaged object.
  ProcessResult backup = env.RunOk({"backup"});
  const std::string second = LoggedBackupId(backup.err, db);
  REQUIRE(!second.empty());
  CHECK_MESSAGE(backup.err.find("stored damaged chunk '" + name + "' again") != std::string::npos, backup.err);
  CHECK(TableChunks(env, second, "filler") == chunks);  // same data, same id: the object was replaced
  CHECK(ReadFile(env.repo_dir() + "/" + name) != damaged_bytes);

  RequireRestoresEqual(cluster, env, db, second, target);
  RequireRestoresEqual(cluster, env, db, first, target);  // the older backup needed the same chunk
  ProcessResult verify = env.Run({"verify", db});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
  ProcessResult check = env.Run({"check", "--read-data"});
  CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);
  CHECK(check.out.find("DAMAGED") == std::string::npos);
  cluster.DropDatabase(db);
}

TEST_CASE("check --read-data names the damaged backups and which ones the next backup repairs") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "heal-check";
  const std::string target = "heal-check-restored";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db,
               "CREATE TABLE keep AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g;"
               "CREATE TABLE change AS SELECT g AS id, md5((g * 3)::text) AS v FROM generate_series(1, 2000) g;");
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  const std::string b1 = LoggedBackupId(env.RunOk({"backup"}).err, db);
  // Every value replaced by an unrelated one: b2's chunk of `change` is not a delta against b1's.
  cluster.Psql(db, "UPDATE change SET v = md5(v)");
  const std::string b2 = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!b1.empty());
  REQUIRE(!b2.empty());
  auto keep = TableChunks(env, b1, "keep");
  auto changed_old = TableChunks(env, b1, "change");
  REQUIRE(keep.size() == 1);
  REQUIRE(keep == TableChunks(env, b2, "keep"));  // shared by both backups
  REQUIRE(changed_old.size() == 1);
  REQUIRE(changed_old != TableChunks(env, b2, "change"));  // only in b1
  const std::string keep_name = FlipChunk(env, keep[0]);
  const std::string old_name = FlipChunk(env, changed_old[0]);

  ProcessResult before = env.Run({"--json", "check", "--read-data"});
  CHECK(before.exit_code == 3);
  auto j = nlohmann::json::parse(before.out);
  CHECK(j["ok"] == false);
  REQUIRE(j["damaged_backups"].size() == 2);
  for (const auto& d : j["damaged_backups"]) {
    const std::string id = d["backup_id"];
    CAPTURE(id);
    CHECK(d["database"] == db);
    if (id == b1) {
      CHECK(d["damaged_chunks"].size() == 2);
      CHECK(d["repairable_by_next_backup"] == false);  // the old 'change' rows are gone from the database
    } else {
      CHECK(id == b2);
      CHECK(d["damaged_chunks"] == nlohmann::json::array({keep_name}));
      CHECK(d["repairable_by_next_backup"] == true);
    }
  }
  ProcessResult text = env.Run({"check", "--read-data"});
  CHECK(text.exit_code == 3);
  CHECK(text.out.find(keep_name) != std::string::npos);
  CHECK(text.out.find(old_name) != std::string::npos);
  CHECK_MESSAGE(text.out.find("DAMAGED  backup " + b2 + " (" + db + "): 1 damaged chunk(s); repaired by the next backup") !=
                    std::string::npos,
                text.out);
  CHECK_MESSAGE(text.out.find("DAMAGED  backup " + b1 + " (" + db + "): 2 damaged chunk(s); 1 of them") != std::string::npos,
                text.out);
  CHECK(text.out.find("no backup will repair this one") != std::string::npos);

  // `check` without --read-data now reports the recorded damage too.
  ProcessResult quick = env.Run({"check"});
  CHECK(quick.exit_code == 3);
  CHECK(quick.out.find(keep_name) != std::string::npos);

  const std::string b3 = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!b3.empty());
  ProcessResult after = env.Run({"--json", "check", "--read-data"});
  CHECK(after.exit_code == 3);  // b1's old 'change' rows cannot come back
  auto a = nlohmann::json::parse(after.out);
  REQUIRE(a["damaged_backups"].size() == 1);
  CHECK(a["damaged_backups"][0]["backup_id"] == b1);
  CHECK(a["damaged_backups"][0]["damaged_chunks"] == nlohmann::json::array({old_name}));
  RequireRestoresEqual(cluster, env, db, b2, target);  // repaired by b3
  RequireRestoresEqual(cluster, env, db, b3, target);
  cluster.DropDatabase(db);
}

TEST_CASE("a manifest missing from storage: check and status name the lost backup, restore names the intact one") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "heal-lost";
  const std::string target = "heal-lost-restored";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db, "CREATE TABLE marker(version int NOT NULL); INSERT INTO marker VALUES (1)");
  DhanbakEnv env({db}, kPassphrase);
  env.InitFast();
  const std::string b1 = LoggedBackupId(env.RunOk({"backup"}).err, db);
  cluster.Psql(db, "UPDATE marker SET version = 2");
  const std::string b2 = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!b1.empty());
  REQUIRE(!b2.empty());
  const std::string manifest = "manifests/" + b2;
  // A corrupted manifest is named, with the intact backup to use instead.
  const std::string manifest_bytes = ReadFile(env.repo_dir() + "/" + manifest);
  std::string bad = manifest_bytes;
  bad[bad.size() - 3] = static_cast<char>(bad[bad.size() - 3] ^ 0x80);
  WriteFile(env.repo_dir() + "/" + manifest, bad);
  cluster.DropDatabase(target);
  ProcessResult corrupt = env.Run({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(corrupt.exit_code == 3);
  CHECK_MESSAGE(corrupt.err.find("'" + manifest + "' is corrupted") != std::string::npos, corrupt.err);
  CHECK_MESSAGE(corrupt.err.find("--backup " + b1) != std::string::npos, corrupt.err);
  CHECK(env.Run({"status"}).exit_code == 0);  // present: status does not read manifests
  REQUIRE(fs::remove(env.repo_dir() + "/" + manifest));

  ProcessResult check = env.Run({"check"});
  CHECK(check.exit_code == 3);
  CHECK_MESSAGE(check.out.find("backup " + b2 + " (" + db + ") is lost") != std::string::npos, check.out);
  CHECK(check.out.find(manifest) != std::string::npos);
  auto cj = nlohmann::json::parse(env.Run({"--json", "check"}).out);
  CHECK(cj["lost_backups"] == nlohmann::json::array({b2}));

  auto listed = env.ListJson(db);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["backup_id"] == b2);
  CHECK(listed[0]["lost"] == true);
  CHECK(listed[1]["lost"] == false);
  CHECK(env.RunOk({"list"}).out.find("lost: its manifest is missing") != std::string::npos);

  ProcessResult status = env.Run({"status"});
  CHECK(status.exit_code == 5);
  CHECK_MESSAGE(status.out.find("backup " + b2 + " lost") != std::string::npos, status.out);
  auto sj = nlohmann::json::parse(env.Run({"--json", "status"}).out);
  REQUIRE(sj["databases"].size() == 1);
  CHECK(sj["databases"][0]["last_backup_id"] == b1);  // the lost one is not the last good backup
  CHECK(sj["databases"][0]["lost_backups"] == nlohmann::json::array({b2}));
  CHECK(sj["ok"] == false);

  cluster.DropDatabase(target);
  ProcessResult restore = env.Run({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(restore.exit_code == 3);
  CHECK_MESSAGE(restore.err.find("'" + manifest + "' is missing") != std::string::npos, restore.err);
  CHECK_MESSAGE(restore.err.find("--backup " + b1) != std::string::npos, restore.err);
  CHECK_FALSE(cluster.DatabaseExists(target));

  // The runbook's steps: restore the intact one, then let the catalog forget the lost one.
  env.RunOk({"restore", db, "--backup", b1, "--target-db", target});
  CHECK(cluster.Psql(target, "SELECT version FROM marker") == "1");
  cluster.DropDatabase(target);
  env.RunOk({"catalog", "rebuild"});
  CHECK(env.Run({"check"}).exit_code == 0);
  CHECK(env.Run({"status"}).exit_code == 0);
  const std::string b3 = LoggedBackupId(env.RunOk({"backup"}).err, db);
  REQUIRE(!b3.empty());
  env.RunOk({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(cluster.Psql(target, "SELECT version FROM marker") == "2");
  cluster.DropDatabase(target);
  cluster.DropDatabase(db);
}

}  // namespace heal_test
