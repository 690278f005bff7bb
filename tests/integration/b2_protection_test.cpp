// B2 under attack and under Object Lock: what a leaked append-only key (hide markers, foreign
// versions) or a retention setting does to prune, check and readers. A binary of its own so that
// ctest runs it beside the other B2 end-to-end tests.
#include <algorithm>

#include "b2_test_env.hpp"

namespace b2_protection_test {  // this file's names, apart from its unity batch's

TEST_CASE("B2 Object Lock: prune keeps what locked manifests need, run locks are never retained, a retained lock does not stop prune") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "olock-b2";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db, "CREATE TABLE x AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g");
  Emulator emulator({std::string(kKeyId) + ":" + kKey}, {"--bucket", std::string(kBucket) + ":object-lock"});
  B2Settings settings;
  settings.extra_toml = "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
  B2Dhanbak dhanbak(emulator, {db}, settings);
  dhanbak.RunOk({"init"});
  // Two days ago, without Object Lock: the chunks of table x.
  emulator.SetClock(-2 * 24 * 3600);
  dhanbak.RunOk({"backup", db});
  emulator.SetClock(0);
  // Today with Object Lock: the same data reuses those (unlocked, old) chunks; the manifest is locked.
  dhanbak.settings().object_lock_days = 1;
  dhanbak.WriteConfig();
  const std::string locked = LoggedBackupId(dhanbak.RunOk({"backup", db}).err, db);
  REQUIRE(!locked.empty());
  CHECK(emulator.ListNames(std::string(kPrefix) + "/locks/").empty());  // the run lock was not retained
  // A lock object retained by the bucket (e.g. its default retention) left by some earlier run.
  emulator.UploadRetained(std::string(kPrefix) + "/locks/00112233aabbccdd", R"({"released":true})",
                          (static_cast<int64_t>(std::time(nullptr)) + 3600) * 1000);
  cluster.Psql(db, "DROP TABLE x; CREATE TABLE y AS SELECT 1 AS id");
  dhanbak.RunOk({"backup", db});

  // Both older backups are expired; the locked one cannot be deleted, so table x's chunks
  // (two days old, unlocked, needed by nothing else) must stay.
  ProcessResult prune = dhanbak.Run({"prune"});
  INFO("prune: exit " << prune.exit_code << "\nstdout:\n" << prune.out << "\nstderr:\n" << prune.err);
  CHECK(prune.exit_code == 0);
  CHECK(prune.out.find("Object Lock") != std::string::npos);
  bool listed = false;
  for (const auto& b : dhanbak.ListJson()) listed = listed || b["backup_id"] == locked;
  CHECK(listed);
  const std::string target = "olock-b2-restored";
  cluster.DropDatabase(target);
  dhanbak.RunOk({"restore", db, "--backup", locked, "--target-db", target});
  CHECK(cluster.Psql(target, "SELECT count(*) FROM x") == "3000");
  cluster.DropDatabase(target);
  cluster.DropDatabase(db);
}

// What a leaked append-only key (writeFiles) can do on B2 besides uploading: hide names, and put
// new versions over dhanbak's objects. Readers use the version dhanbak wrote; check says what
// was done and how to undo it.
TEST_CASE("B2: a hidden manifest is reported by check with its recovery, and its backup still restores") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "hidden-manifest-b2";
  CreateSmallDatabase(cluster, db, 2000);
  Emulator emulator({std::string(kKeyId) + ":" + kKey});
  B2Dhanbak dhanbak(emulator, {db});
  dhanbak.RunOk({"init"});
  emulator.SetClock(-2 * 24 * 3600);  // stored two days ago: past prune's grace period
  const std::string id = LoggedBackupId(dhanbak.RunOk({"backup", db}).err, db);
  emulator.SetClock(0);
  REQUIRE(!id.empty());
  const std::string manifest = std::string(kPrefix) + "/manifests/" + id;
  const std::string marker = emulator.Call("b2_hide_file", {{"bucketId", nullptr}, {"fileName", manifest}}).at("fileId");
  CHECK(emulator.ListNames(std::string(kPrefix) + "/manifests/").empty());

  ProcessResult check = dhanbak.Run({"check"});
  INFO("check: exit " << check.exit_code << "\nstdout:\n" << check.out << "\nstderr:\n" << check.err);
  CHECK(check.exit_code == 3);
  CHECK(Contains(check.out, "object 'manifests/" + id + "' is hidden"));
  CHECK(Contains(check.out, "b2 delete-file-version " + manifest + " " + marker));
  CHECK_FALSE(Contains(check.out, "is lost"));  // hidden is not lost: its version is still there
  ProcessResult check_json = dhanbak.Run({"--json", "check"});
  CHECK(check_json.exit_code == 3);
  json report = json::parse(check_json.out);
  REQUIRE(report.at("hidden_objects").size() == 1);
  CHECK(report["hidden_objects"][0]["name"] == "manifests/" + id);
  CHECK(report["hidden_objects"][0]["hide_marker_id"] == marker);
  CHECK(report["lost_backups"].empty());

  // The backup restores from the hidden version, with a warning naming the marker.
  const std::string target = "hidden-manifest-b2-restored";
  cluster.DropDatabase(target);
  ProcessResult restore = dhanbak.RunOk({"restore", db, "--backup", id, "--target-db", target});
  CHECK(Contains(restore.err, marker));
  CompareResult cmp = CompareDatabases(cluster, db, target);
  INFO(cmp.Summary());
  CHECK(cmp.equal);
  cluster.DropDatabase(target);

  // Rebuilding the catalog keeps the backup: its manifest is hidden, not gone.
  dhanbak.RunOk({"catalog", "rebuild"});
  json listed = dhanbak.ListJson();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["backup_id"] == id);

  // What prune asks before it sweeps chunks.
  auto storage = InProcessStorage(emulator);
  auto repo = dhanbak::format::Repository::Open(*storage, kPassphrase);
  CHECK(repo->HiddenManifestIds() == std::vector<std::string>{id});
  // Prune would otherwise see no manifest at all and sweep every (old) chunk.
  const size_t chunks = emulator.ListNames(std::string(kPrefix) + "/chunks/").size();
  ProcessResult prune = dhanbak.Run({"prune"});
  INFO("prune: exit " << prune.exit_code << "\nstderr:\n" << prune.err);
  CHECK(prune.exit_code == 3);
  CHECK(Contains(prune.err, id));
  CHECK(Contains(prune.err, "hidden"));
  CHECK(emulator.ListNames(std::string(kPrefix) + "/chunks/").size() == chunks);

  // The recovery check printed: delete the marker with a key that has deleteFiles.
  emulator.Call("b2_delete_file_version", {{"fileName", manifest}, {"fileId", marker}});
  dhanbak.RunOk({"check"});
  CHECK(repo->HiddenManifestIds().empty());
  cluster.DropDatabase(db);
}

// One small database backed up once to a fresh emulator, and the name of its table's only chunk:
// the object the attacks below go after.
struct OneChunkBackup {
  OneChunkBackup() {
    CreateSmallDatabase(cluster, db, 3000);
    dhanbak.RunOk({"init"});
    first = LoggedBackupId(dhanbak.RunOk({"backup", db}).err, db);
    REQUIRE(!first.empty());
    repo = ::dhanbak::format::Repository::Open(*storage, kPassphrase);
    chunk = OnlyChunkOf(*repo, first, "filler");
    REQUIRE(!chunk.empty());
    name = ::dhanbak::format::Repository::ChunkName(chunk);
  }
  PgCluster& cluster = SharedCluster();
  const std::string db = "one-chunk-b2";
  Emulator emulator{{std::string(kKeyId) + ":" + kKey}};
  B2Dhanbak dhanbak{emulator, {db}};
  std::unique_ptr<::dhanbak::storage::B2Storage> storage = InProcessStorage(emulator);
  std::unique_ptr<::dhanbak::format::Repository> repo;
  std::string first, chunk, name;
};

TEST_CASE_FIXTURE(OneChunkBackup, "B2: a foreign new version of a chunk breaks no backup, and check --read-data names it") {
  const std::string target = db + "-restored";

  // Garbage uploaded over the table's chunk: a download by name now gets it.
  std::string garbage = storage->Get(name);
  for (auto& c : garbage) c = static_cast<char>(c ^ 0x3c);
  storage->Put(name, garbage);
  const std::vector<std::string> versions = VersionIds(*storage, name);
  REQUIRE(versions.size() == 2);
  const std::string foreign = versions[0];
  CHECK_THROWS(repo->OpenChunk(chunk, storage->Get(name)));

  // The old backup restores and verifies from the version dhanbak wrote.
  cluster.DropDatabase(target);
  ProcessResult restore = dhanbak.RunOk({"restore", db, "--backup", first, "--target-db", target});
  CHECK(Contains(restore.err, foreign));
  CHECK(cluster.Psql(target, "SELECT count(*) FROM filler") == "3000");
  cluster.DropDatabase(target);
  dhanbak.RunOk({"verify", db, "--backup", first});

  // A new backup deduplicates against the name (it is listed) and restores just as well.
  const std::string second = LoggedBackupId(dhanbak.RunOk({"backup", db}).err, db);
  REQUIRE(!second.empty());
  CHECK(OnlyChunkOf(*repo, second, "filler") == chunk);
  CHECK(VersionIds(*storage, name).size() == 2);
  RestoreAndCompare(dhanbak, cluster, db);

  // Only reading every version tells a foreign one from a chunk sealed again by a backup.
  ProcessResult plain = dhanbak.Run({"check"});
  INFO("check: exit " << plain.exit_code << "\nstdout:\n" << plain.out << "\nstderr:\n" << plain.err);
  CHECK(plain.exit_code == 0);
  CHECK(Contains(plain.out, "more than one version"));
  ProcessResult deep = dhanbak.Run({"check", "--read-data"});
  INFO("check --read-data: exit " << deep.exit_code << "\nstdout:\n" << deep.out << "\nstderr:\n" << deep.err);
  CHECK(deep.exit_code == 3);
  CHECK(Contains(deep.out, "object '" + name + "' has a foreign version " + foreign));
  CHECK(Contains(deep.out, "b2 delete-file-version " + std::string(kPrefix) + "/" + name + " " + foreign));
  CHECK_FALSE(Contains(deep.out, "DAMAGED"));  // every backup is whole
  json report = json::parse(dhanbak.Run({"--json", "check", "--read-data"}).out);
  REQUIRE(report.at("foreign_versions").size() == 1);
  CHECK(report["foreign_versions"][0]["version_id"] == foreign);
  CHECK(report["foreign_versions"][0]["used_version_id"] == versions[1]);

  emulator.Call("b2_delete_file_version", {{"fileName", std::string(kPrefix) + "/" + name}, {"fileId", foreign}});
  dhanbak.RunOk({"check", "--read-data"});
  cluster.DropDatabase(db);
}

TEST_CASE_FIXTURE(OneChunkBackup, "B2: a hidden chunk is read from its hidden version and stored again by the next backup") {
  const std::string target = db + "-restored";
  const std::string full = std::string(kPrefix) + "/" + name;
  const std::string marker = emulator.Call("b2_hide_file", {{"bucketId", nullptr}, {"fileName", full}}).at("fileId");

  ProcessResult check = dhanbak.Run({"check"});
  INFO("check: exit " << check.exit_code << "\nstdout:\n" << check.out << "\nstderr:\n" << check.err);
  CHECK(check.exit_code == 3);
  CHECK(Contains(check.out, "object '" + name + "' is hidden"));
  CHECK(Contains(check.out, "b2 delete-file-version " + full + " " + marker));
  CHECK_FALSE(Contains(check.out, "is missing"));

  cluster.DropDatabase(target);
  ProcessResult restore = dhanbak.RunOk({"restore", db, "--backup", first, "--target-db", target});
  CHECK(Contains(restore.err, marker));
  CHECK(cluster.Psql(target, "SELECT count(*) FROM filler") == "3000");
  cluster.DropDatabase(target);

  // The listing a backup deduplicates against leaves hidden names out: the chunk is stored again,
  // which un-hides it.
  dhanbak.RunOk({"backup", db});
  CHECK(emulator.ListNames(full) == std::vector<std::string>{full});
  CHECK(VersionIds(*storage, name).size() == 3);  // the new upload, the marker, the first upload
  dhanbak.RunOk({"check"});
  dhanbak.RunOk({"check", "--read-data"});
  RestoreAndCompare(dhanbak, cluster, db);
  cluster.DropDatabase(db);
}

TEST_CASE("B2: a deletion that fails does not stop prune: the rest is done, the failure reported, the next prune finishes") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "prune-fault-b2";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  Emulator emulator({std::string(kKeyId) + ":" + kKey});
  B2Settings settings;
  settings.extra_toml = "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
  B2Dhanbak dhanbak(emulator, {db});
  dhanbak.settings() = settings;
  dhanbak.WriteConfig();
  dhanbak.RunOk({"init"});
  // Three backups sharing no table data; the first two stored two days ago (past the grace period).
  std::vector<std::string> ids;
  for (const char* table : {"a", "b", "c"}) {
    cluster.Psql(db, std::string("DROP TABLE IF EXISTS a, b; CREATE TABLE ") + table +
                         " AS SELECT g AS id, md5(g::text || '" + table + "') AS v FROM generate_series(1, 3000) g");
    emulator.SetClock(std::string(table) == "c" ? 0 : -2 * 24 * 3600);
    ids.push_back(LoggedBackupId(dhanbak.RunOk({"backup", db}).err, db));
  }
  emulator.SetClock(0);
  const std::string manifests = std::string(kPrefix) + "/manifests/";
  const size_t chunks_before = emulator.ListNames(std::string(kPrefix) + "/chunks/").size();
  // The first deletion is refused for good. prune deletes in the manifests' name order, which is
  // their time to the second: the first two backups may share it (then their random suffixes decide).
  const size_t refused = ids[0] < ids[1] ? 0 : 1;
  const std::string refused_table = refused == 0 ? "a" : "b";
  emulator.SetFaults({{"rules", json::array({{{"api", "b2_delete_file_version"}, {"status", 401},
                                                {"code", "unauthorized"}, {"nth", 1}}})}});
  ProcessResult prune = dhanbak.Run({"prune"});
  INFO("prune: exit " << prune.exit_code << "\nstdout:\n" << prune.out << "\nstderr:\n" << prune.err);
  CHECK(prune.exit_code != 0);
  CHECK(Contains(prune.out, "1 deletion(s) failed"));
  std::vector<std::string> left = emulator.ListNames(manifests);
  std::vector<std::string> expected_left{manifests + ids[refused], manifests + ids[2]};
  std::sort(expected_left.begin(), expected_left.end());  // listed in name order
  CHECK(left == expected_left);
  const size_t chunks_after = emulator.ListNames(std::string(kPrefix) + "/chunks/").size();
  CHECK(chunks_after < chunks_before);  // the deleted backup's chunks went; the refused one's stayed
  dhanbak.RunOk({"restore", db, "--backup", ids[refused], "--target-db", db + "-refused"});
  CHECK(cluster.Psql(db + "-refused", "SELECT count(*) FROM " + refused_table) == "3000");
  cluster.DropDatabase(db + "-refused");

  emulator.ClearFaults();
  dhanbak.RunOk({"prune"});
  CHECK(emulator.ListNames(manifests) == std::vector<std::string>{manifests + ids[2]});
  CHECK(emulator.ListNames(std::string(kPrefix) + "/chunks/").size() < chunks_after);
  RestoreAndCompare(dhanbak, cluster, db);
  cluster.DropDatabase(db);
}

}  // namespace b2_protection_test
