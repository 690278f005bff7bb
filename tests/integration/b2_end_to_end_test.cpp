// End-to-end through Backblaze B2's native API: the real dhanbak binary backs up, restores and
// verifies sample Dhanman databases in a `b2://` repository served by dhanbak-b2-emulator.
//
//  - an append-only application key (no deleteFiles) is enough to back up, restore and verify,
//    and the prune key can prune afterwards;
//  - a chunk found corrupted is stored again as a new version, which readers then get;
//  - no dhanbak run ever prints the application key (or its id): credentials come from env:
//    references and must stay out of logs and errors.
// Faults are in b2_faults_test.cpp, attacks and Object Lock in b2_protection_test.cpp.
#include "b2_test_env.hpp"

namespace b2_end_to_end_test {  // this file's names, apart from its unity batch's

TEST_CASE("an append-only application key (no deleteFiles) backs up, restores and verifies") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "prod-dhanman-purchase";
  GenerateSample(cluster, db, "purchase", "0.002");

  Emulator emulator({std::string(kKeyId) + ":" + kKey, std::string(kAppendKeyId) + ":" + kAppendKey + ":" + kAppendCaps});
  B2Settings settings;
  settings.key_id = kAppendKeyId;
  settings.key = kAppendKey;
  B2Dhanbak dhanbak(emulator, {db}, settings);
  dhanbak.RunOk({"init"});
  ProcessResult first = dhanbak.RunOk({"-v", "backup", db});
  // A B2 repository is bound by round trips: [b2] connections (4) chunks in flight, not one per job.
  CHECK(first.err.find("B2 repository: 4 chunks compressed and stored at a time") != std::string::npos);
  // A second night: every chunk is already there, nothing needs deleting or overwriting.
  dhanbak.RunOk({"backup", db});
  json backups = dhanbak.ListJson();
  REQUIRE(backups.size() == 2);
  for (const auto& b : backups) CHECK(b["status"] == "ok");
  RestoreAndCompare(dhanbak, cluster, db);
  dhanbak.RunOk({"verify", db});
  CHECK(emulator.ListNames(std::string(kPrefix) + "/manifests/").size() == 2);

  // The append-only key cannot delete its run lock: it overwrites it with a released marker
  // instead, quietly, and prune (which has deleteFiles) removes those markers.
  CHECK(first.err.find("could not") == std::string::npos);

  // The separate prune key (with deleteFiles) can still prune this repository afterwards.
  B2Dhanbak pruner(emulator, {db});
  ProcessResult prune = pruner.Run({"prune"});
  INFO("prune with the full key: exit " << prune.exit_code << "\nstdout:\n" << prune.out << "\nstderr:\n" << prune.err);
  CHECK(prune.exit_code == 0);
  CHECK(emulator.ListNames(std::string(kPrefix) + "/manifests/").size() == 2);  // keep_last = 3
  CHECK(emulator.ListNames(std::string(kPrefix) + "/locks/").empty());

  // --repo decides, not the configuration's url: a local repository named on the command line is
  // bound by CPU and gets one thread per job (2), for the backup and for the restore.
  const std::string local = MakeTestTempDir("dhanbak-e2e-local");
  const std::string local_url = "file://" + local + "/repo";
  dhanbak.RunOk({"--repo", local_url, "init"});
  ProcessResult local_backup = dhanbak.RunOk({"-v", "--repo", local_url, "backup", db});
  CHECK(local_backup.err.find("local repository: 2 chunks compressed and stored at a time") != std::string::npos);
  CHECK(local_backup.err.find("B2 repository") == std::string::npos);
  cluster.DropDatabase("width_check");
  ProcessResult local_restore =
      dhanbak.RunOk({"-v", "--repo", local_url, "restore", db, "--target-db", "width_check", "--no-verify"});
  CHECK(local_restore.err.find("local repository: 2 chunks fetched at a time, up to 1 read ahead per table") !=
        std::string::npos);
  cluster.DropDatabase("width_check");
  fs::remove_all(local);
}

TEST_CASE("B2: a chunk found corrupted is uploaded again as a new version, and readers get the good one") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "heal-b2";
  CreateSmallDatabase(cluster, db, 3000);
  Emulator emulator({std::string(kKeyId) + ":" + kKey});
  B2Dhanbak dhanbak(emulator, {db});
  dhanbak.RunOk({"init"});
  const std::string first = LoggedBackupId(dhanbak.RunOk({"backup", db}).err, db);
  REQUIRE(!first.empty());

  // The same bucket, seen in-process: damage the table's chunk. Every good version goes first:
  // readers would use a good older version (see the foreign-version test below).
  auto in_process = InProcessStorage(emulator);
  dhanbak::storage::B2Storage& storage = *in_process;
  auto repo = dhanbak::format::Repository::Open(storage, kPassphrase);
  const std::string chunk = OnlyChunkOf(*repo, first, "filler");
  REQUIRE(!chunk.empty());
  const std::string name = dhanbak::format::Repository::ChunkName(chunk);
  std::string bad = storage.Get(name);
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x01);
  storage.Remove(name);
  storage.Put(name, bad);
  CHECK_THROWS(repo->OpenChunk(chunk, storage.Get(name)));

  const std::string target = "heal-b2-restored";
  cluster.DropDatabase(target);
  ProcessResult restore = dhanbak.Run({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(restore.exit_code == 3);
  CHECK_MESSAGE(restore.err.find(name) != std::string::npos, restore.err);

  ProcessResult backup = dhanbak.RunOk({"backup", db});
  CHECK_MESSAGE(backup.err.find("stored damaged chunk '" + name + "' again") != std::string::npos, backup.err);
  CHECK_NOTHROW(repo->OpenChunk(chunk, storage.Get(name)));  // the newest version is good again
  RestoreAndCompare(dhanbak, cluster, db);
  cluster.DropDatabase(target);
  dhanbak.RunOk({"restore", db, "--backup", first, "--target-db", target});  // the old backup is repaired too
  CHECK(cluster.Psql(target, "SELECT count(*) FROM filler") == "3000");
  cluster.DropDatabase(target);
  dhanbak.RunOk({"check", "--read-data"});

  // A lost manifest on B2: status alerts and restore names the intact older backup.
  const std::string newest = dhanbak.ListJson()[0]["backup_id"];
  storage.Remove(dhanbak::format::Repository::ManifestName(newest));
  ProcessResult status = dhanbak.Run({"status"});
  CHECK(status.exit_code == 5);
  CHECK_MESSAGE(status.out.find("backup " + newest + " lost") != std::string::npos, status.out);
  ProcessResult lost = dhanbak.Run({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(lost.exit_code == 3);
  CHECK_MESSAGE(lost.err.find("--backup " + first) != std::string::npos, lost.err);
  // With the repository unreachable, status is bounded, warns, and still shows what it knew.
  emulator.Stop();
  auto started = std::chrono::steady_clock::now();
  ProcessResult offline = dhanbak.Run({"status"});
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(90));
  CHECK(offline.exit_code == 5);
  CHECK(offline.err.find("cannot compare the catalog with the repository") != std::string::npos);
  CHECK(offline.out.find("backup " + newest + " lost") != std::string::npos);
  cluster.DropDatabase(db);
}

}  // namespace b2_end_to_end_test
