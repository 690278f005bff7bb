// B2 under faults, end to end: the real dhanbak binary against dhanbak-b2-emulator
//  - under a fault mix (10% of all requests answered 503, every token expiring after 50 uses)
//    every command still succeeds and the restored databases equal their sources; the retries
//    the emulator saw are reported;
//  - a backup cut off by a permanent outage (a 503 storm, then the emulator killed mid-upload)
//    exits non-zero, is listed as failed and leaves no manifest in the bucket; the next run,
//    with the service back, succeeds.
// A binary of its own so that ctest runs it beside the other B2 end-to-end tests.
#include "b2_test_env.hpp"

namespace b2_faults_test {  // this file's names, apart from its unity batch's

TEST_CASE("backup, restore and verify through B2 with 10% 503s and tokens expiring every 50 requests") {
  PgCluster& cluster = SharedCluster();
  const std::vector<std::pair<std::string, std::string>> databases = {
      {"prod-dhanman-sales", "sales"}, {"prod-dhanman-payroll", "payroll"}, {"prod-dhanman-common", "common"}};
  std::vector<std::string> names;
  for (const auto& [name, kind] : databases) {
    GenerateSample(cluster, name, kind, "0.002");
    names.push_back(name);
  }

  Emulator emulator({std::string(kKeyId) + ":" + kKey},
                    {"--fault", "status=503,percent=10,seed=7", "--fault", "kind=expire_token,every=50",
                     "--token-expire-requests", "50"});
  B2Dhanbak dhanbak(emulator, names);

  auto t0 = std::chrono::steady_clock::now();
  dhanbak.RunOk({"init"});
  ProcessResult backup = dhanbak.RunOk({"backup"});
  const double backup_s = Seconds(t0);
  json after_backup = emulator.Stats();

  json backups = dhanbak.ListJson();
  REQUIRE(backups.size() == databases.size());
  for (const auto& b : backups) {
    CAPTURE(b.dump());
    CHECK(b["status"] == "ok");
  }
  CHECK(emulator.ListNames(std::string(kPrefix) + "/manifests/").size() == databases.size());

  emulator.ResetStats();
  t0 = std::chrono::steady_clock::now();
  for (const auto& name : names) RestoreAndCompare(dhanbak, cluster, name);
  const double restore_s = Seconds(t0);
  json after_restore = emulator.Stats();

  emulator.ResetStats();
  t0 = std::chrono::steady_clock::now();
  ProcessResult verify = dhanbak.RunOk({"--json", "verify", "--all"});
  const double verify_s = Seconds(t0);
  json after_verify = emulator.Stats();
  {
    json verdict = json::parse(verify.out);
    INFO("verify --json: " << verify.out);
    REQUIRE(verdict["verifications"].size() == databases.size());
    for (const auto& v : verdict["verifications"]) {
      CHECK(v["status"] == "ok");
      CHECK(v["schema_ok"] == true);
    }
  }

  MESSAGE("B2 under faults (10% 503, token expiry every 50 requests):"
          << "\n  init+backup of 3 databases: " << backup_s << " s, " << after_backup["requests"] << " requests, "
          << Count(after_backup, "503") << " x 503 and " << Count(after_backup, "401") << " x 401 retried"
          << RetrySummary(after_backup) << "\n  restore (+ compare) of 3 databases: " << restore_s << " s, "
          << after_restore["requests"] << " requests, " << Count(after_restore, "503") << " x 503, "
          << Count(after_restore, "401") << " x 401" << RetrySummary(after_restore)
          << "\n  verify --all: " << verify_s << " s, " << after_verify["requests"] << " requests, "
          << Count(after_verify, "503") << " x 503, " << Count(after_verify, "401") << " x 401");
  // The faults really happened, on every phase, and were ridden out.
  CHECK(Count(after_backup, "503") > 0);
  CHECK(Count(after_restore, "503") + Count(after_verify, "503") > 0);
  CHECK(Count(after_backup, "401") + Count(after_restore, "401") + Count(after_verify, "401") > 0);
}

TEST_CASE("a backup cut off by a permanent outage is failed, leaves no manifest, and the next run succeeds") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "prod-dhanman-inventory";
  GenerateSample(cluster, db, "inventory", "0.002");

  Emulator emulator({std::string(kKeyId) + ":" + kKey});
  B2Settings settings;
  settings.retry_max_time = "5s";
  B2Dhanbak dhanbak(emulator, {db}, settings);
  dhanbak.RunOk({"init"});
  const std::string manifests = std::string(kPrefix) + "/manifests/";

  bool recorded_failed = true;  // the outage hit a backup under way, so the catalog has it
  // Starts `backup DB` in the background and returns once the database's backup is under way:
  // it has logged its backup id and stored a few chunks (uploads are slowed down meanwhile).
  auto start_backup = [&]() {
    emulator.SetFaults({{"rules", json::array({{{"kind", "delay"}, {"api", "b2_upload_file"}, {"delay_ms", 150}}})}});
    auto backup = std::make_unique<BackgroundProcess>(dhanbak.Argv({"backup", db}), dhanbak.Options());
    REQUIRE_MESSAGE(backup->WaitForOutput("backing up " + db + " as ", std::chrono::seconds(60)),
                    "the backup did not start:\n" << backup->Stderr());
    emulator.ResetStats();
    bool uploading = false;
    for (int i = 0; i < 600 && backup->Running(); ++i) {
      if (emulator.Stats()["by_api"].value("b2_upload_file", 0) >= 3) {
        uploading = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE_MESSAGE(uploading, "the backup finished before it could be interrupted:\n" << backup->Stderr());
    return backup;
  };

  SUBCASE("every request answered 503 from mid-backup on") {
    auto backup = start_backup();
    emulator.SetFaults({{"rules", json::array({{{"status", 503}}})}});
    auto t0 = std::chrono::steady_clock::now();
    ProcessResult r = backup->Wait(std::chrono::minutes(2));
    dhanbak.CheckNoSecrets("backup (503 storm)", r);
    MESSAGE("backup with every request answered 503 from mid-backup on exited " << r.exit_code << " after "
                                                                                << Seconds(t0) << " s");
    INFO("stderr:\n" << r.err);
    CHECK(!r.timed_out);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("503") != std::string::npos);
    emulator.ClearFaults();
  }
  SUBCASE("every request answered 503 from the start") {
    emulator.SetFaults({{"rules", json::array({{{"status", 503}}})}});
    auto t0 = std::chrono::steady_clock::now();
    ProcessResult r = dhanbak.Run({"backup", db});
    MESSAGE("backup during a 503 storm exited " << r.exit_code << " after " << Seconds(t0) << " s:\n" << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("503") != std::string::npos);
    emulator.ClearFaults();
    // The run failed before it began the database's backup (opening the repository): see
    // /work/bugs-from-tests.md — no catalog row says that this night's backup failed.
    recorded_failed = false;
  }
  SUBCASE("the emulator killed mid-backup") {
    auto backup = start_backup();
    const int port = emulator.port();
    emulator.Kill();
    auto t0 = std::chrono::steady_clock::now();
    ProcessResult r = backup->Wait(std::chrono::minutes(2));
    dhanbak.CheckNoSecrets("backup (interrupted)", r);
    MESSAGE("backup with the emulator killed mid-upload exited " << r.exit_code << " " << Seconds(t0)
                                                                    << " s after the kill");
    INFO("stderr:\n" << r.err);
    CHECK(!r.timed_out);
    CHECK(r.exit_code == 1);
    emulator.Start(port);  // same data directory: what was stored before the kill is still there
    emulator.ClearFaults();
  }

  // Marked failed in the catalog, and nothing restore could pick in the bucket.
  json backups = dhanbak.ListJson();
  if (recorded_failed) {
    REQUIRE(backups.size() == 1);
    CHECK(backups[0]["database"] == db);
    CHECK(backups[0]["status"] == "failed");
  } else {
    // A run that failed before reaching the database still records it as failed.
    REQUIRE_MESSAGE(backups.size() == 1, "list --json = " << backups.dump());
    CHECK(backups[0]["status"] == "failed");
  }
  CHECK(emulator.ListNames(manifests).empty());
  ProcessResult nothing = dhanbak.Run({"restore", db, "--at", "latest", "--target-db", db + "_none"});
  CHECK(nothing.exit_code != 0);
  CHECK(!cluster.DatabaseExists(db + "_none"));

  // Service is back: the next run succeeds and restores.
  dhanbak.RunOk({"backup", db});
  backups = dhanbak.ListJson();
  REQUIRE(!backups.empty());
  CHECK(backups[0]["status"] == "ok");  // newest first
  if (recorded_failed) {
    REQUIRE(backups.size() == 2);
    CHECK(backups[1]["status"] == "failed");
  }
  CHECK(emulator.ListNames(manifests).size() == 1);
  RestoreAndCompare(dhanbak, cluster, db);
}

}  // namespace b2_faults_test
