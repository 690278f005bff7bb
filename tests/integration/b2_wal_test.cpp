// The WAL archive on B2 (issue 9), through the bundled emulator speaking the native API: the
// wal-push worker pushing ready files ahead over several connections, 503s and dropped uploads,
// an outage in the middle (wal-push fails in bounded time, nothing is skipped when B2 is back),
// and wal-fetch returning every byte, with exit 1 only for what is not there. The files are
// synthetic segments in a pg_wal-shaped directory (the archiver's own behaviour is covered by
// tests/integration/wal_archive_test.cpp against a file:// repository).
#include "b2_test_env.hpp"
#include "support/pitr_fixture.hpp"
#include "support/wal_archive_env.hpp"

#include <cstring>
#include <random>

namespace b2_wal_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test::b2env;

namespace {

constexpr size_t kSegmentBytes = 1 << 20;

std::string SegmentName(int n) {
  char name[25];
  std::snprintf(name, sizeof name, "00000001%08X%08X", n / 256, n % 256);
  return name;
}

// A segment of cluster 4242 with a long page header and incompressible content.
std::string SegmentContent(int n) {
  std::string s(kSegmentBytes, '\0');
  std::mt19937_64 rng(static_cast<uint64_t>(n));
  for (size_t i = 0; i < s.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  uint16_t magic = 0xD110, info = 0x0002;
  uint32_t tli = 1, seg_size = kSegmentBytes;
  uint64_t sysid = 4242;
  std::memcpy(s.data(), &magic, 2);
  std::memcpy(s.data() + 2, &info, 2);
  std::memcpy(s.data() + 4, &tli, 4);
  std::memcpy(s.data() + 24, &sysid, 8);
  std::memcpy(s.data() + 32, &seg_size, 4);
  return s;
}

// What PostgreSQL does: the segment in pg_wal, `.ready` in archive_status.
void MakeReady(const std::string& pg_wal, int n) {
  std::ofstream(pg_wal + "/" + SegmentName(n), std::ios::binary) << SegmentContent(n);
  std::ofstream(pg_wal + "/archive_status/" + SegmentName(n) + ".ready").close();
}

// What PostgreSQL does after archive_command exited 0.
void MarkDone(const std::string& pg_wal, int n) {
  fs::rename(pg_wal + "/archive_status/" + SegmentName(n) + ".ready",
             pg_wal + "/archive_status/" + SegmentName(n) + ".done");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t ArchivedSegments(const Emulator& emulator) {
  size_t n = 0;
  for (const std::string& name : emulator.ListNames(std::string(kPrefix) + "/wal/0")) n += name.ends_with("/cluster") ? 0 : 1;
  return n;
}

}  // namespace

TEST_CASE("b2: wal-push archives ahead, rides out faults and an outage; wal-fetch returns every byte") {
  Emulator emulator({std::string(kKeyId) + ":" + kKey});
  const std::string work = MakeTestTempDir("dhanbak-b2-wal");
  const std::string pg_wal = work + "/pg_wal";
  fs::create_directories(pg_wal + "/archive_status");
  B2Settings settings;
  settings.retry_max_time = "4s";
  settings.extra_toml = "\n[pitr]\nspool_dir = " + Quote(work + "/spool") + "\npush_timeout = \"30s\"\n";
  B2Dhanbak dhanbak(emulator, {}, settings);
  dhanbak.RunOk({"init"});

  int next = 1;
  auto make_ready = [&](int count) {
    for (int i = 0; i < count; ++i) MakeReady(pg_wal, next++);
  };
  // PostgreSQL's archiver: segments first..last oldest first, each called again after a failure
  // (exit 1: not stored) until it succeeds, then marked done. Returns the number of failed calls.
  auto archive = [&](int first, int last) {
    int failed_calls = 0;
    for (int n = first; n <= last; ++n) {
      ProcessResult r;
      for (int attempt = 0; attempt < 10; ++attempt) {
        r = dhanbak.Run({"wal-push", pg_wal + "/" + SegmentName(n)});
        if (r.exit_code != 1) break;
        ++failed_calls;
      }
      INFO(SegmentName(n) << ": " << r.err);
      REQUIRE(r.exit_code == 0);
      MarkDone(pg_wal, n);
    }
    return failed_calls;
  };
  // Twelve ready segments; PostgreSQL asks for them one by one, oldest first.
  make_ready(12);
  // A call may fail now and then when the machine is slow (each one has a 4 s retry budget here);
  // PostgreSQL then calls again. What must hold: few repeats, every segment stored once.
  CHECK(archive(1, 12) <= 2);
  CHECK(ArchivedSegments(emulator) == 12);
  const std::string worker_log = ReadAll(work + "/spool/archive/worker.log");
  CHECK(worker_log.find("WAL file " + SegmentName(12) + " archived") != std::string::npos);

  SUBCASE("503s and dropped connections on a third of the uploads: every segment still arrives, once") {
    emulator.SetFaults({{"rules", json::array({{{"status", 503}, {"api", "b2_upload_file"}, {"percent", 20}},
                                               {{"kind", "drop"}, {"api", "b2_upload_file"}, {"percent", 15}}})}});
    make_ready(8);
    MESSAGE("wal-push calls that failed and were repeated, as PostgreSQL does: " << archive(13, 20));
    emulator.ClearFaults();
    CHECK(ArchivedSegments(emulator) == 20);
  }
  SUBCASE("B2 gone: wal-push fails in bounded time with exit 1; once B2 is back nothing is skipped") {
    const int port = emulator.port();
    emulator.Kill();
    make_ready(3);
    auto t0 = std::chrono::steady_clock::now();
    ProcessResult failed = dhanbak.Run({"wal-push", pg_wal + "/" + SegmentName(13)});
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("wal-push with B2 gone exited " << failed.exit_code << " after " << seconds << " s");
    CHECK(failed.exit_code == 1);
    CHECK(seconds <= 45);
    CHECK(failed.err.find(SegmentName(13)) != std::string::npos);
    emulator.Start(port);
    const int repeated = archive(13, 15);
    MESSAGE("wal-push calls repeated after B2 came back: " << repeated);
    CHECK(repeated <= 3);
    CHECK(ArchivedSegments(emulator) == 15);
  }

  // Every archived segment comes back byte for byte (through the prefetching spool).
  const std::string restored = work + "/restored";
  fs::create_directories(restored);
  for (int n = 1; n < next; ++n) {
    ProcessResult r = dhanbak.Run({"wal-fetch", SegmentName(n), restored + "/RECOVERYXLOG"});
    INFO(SegmentName(n) << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(ReadAll(restored + "/RECOVERYXLOG") == SegmentContent(n));
  }
  CHECK(dhanbak.Run({"wal-fetch", SegmentName(next), restored + "/RECOVERYXLOG"}).exit_code == 1);
  emulator.Kill();
  ProcessResult gone = dhanbak.Run({"wal-fetch", SegmentName(next), restored + "/RECOVERYXLOG"});
  CHECK(gone.exit_code == 126);
  fs::remove_all(work);
}

TEST_CASE("b2: base-backup, restore-cluster and restore --at through 503s and dropped connections; the archiver rides them out") {
  using dhanbak::test::WalArchiveEnv;
  Emulator emulator({std::string(kKeyId) + ":" + kKey});
  PgCluster& cluster = SharedCluster();
  WalArchiveEnv env;
  // The env's repository moves to the emulator; PostgreSQL's archiver (the server's OS user)
  // reads the B2 key from files that user owns.
  for (const auto& [file, value] : {std::pair{"b2-key-id", std::string(kKeyId)}, std::pair{"b2-key", std::string(kKey)}}) {
    std::ofstream(env.dir() + "/" + file) << value << "\n";
    ::chmod((env.dir() + "/" + file).c_str(), 0600);
  }
  std::string conf;
  {
    std::ifstream in(env.config_path());
    conf.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string file_url = "url = \"file://" + env.repo_dir() + "\"";
  REQUIRE(conf.find(file_url) != std::string::npos);
  conf.replace(conf.find(file_url), file_url.size(),
               "url = \"b2://" + std::string(kBucket) + "/pitr\"");
  // With 12% of transfers failing, a call sometimes meets five failures in a row; a 60 s budget
  // lets it back off once more (production's default is 600 s) instead of failing the restore.
  conf += "push_timeout = \"30s\"\n[b2]\nkey_id = \"file:" + env.dir() + "/b2-key-id\"\napplication_key = \"file:" +
          env.dir() + "/b2-key\"\napi_url = \"" + emulator.url() + "\"\nconnections = 4\nretry_max_time = \"60s\"\n";
  std::ofstream(env.config_path(), std::ios::trunc) << conf;
  dhanbak::test::GiveToServerUser(env.dir());
  REQUIRE(env.Run({"init", "--allow-weak-passphrase"}).exit_code == 0);
  env.EnableArchiving(cluster);
  dhanbak::test::PointAt(env, cluster);
  const std::string space = dhanbak::test::TablespaceDir(cluster, "b2-space");
  dhanbak::test::CreateSchema(cluster, space);

  // Every transfer may fail (a chunk fails for good only after five failed attempts in a row).
  const std::string transfers = "b2_upload_file+b2_download_file_by_name+b2_list_file_names";
  const json faults{{"rules", json::array({{{"status", 503}, {"api", transfers}, {"percent", 7}},
                                           {{"kind", "drop"}, {"api", transfers}, {"percent", 5}}})}};
  emulator.SetFaults(faults);
  ProcessResult base = env.Run({"base-backup"}, std::chrono::minutes(5));
  INFO(base.out << base.err);
  REQUIRE(base.exit_code == 0);
  cluster.Psql("ledger", "UPDATE entries SET amount = amount + 1 WHERE id % 2 = 0");
  const std::string state_a = dhanbak::test::Digest(cluster);
  const std::string entries_sql = "SELECT count(*) || ':' || md5(string_agg(id || '/' || amount, ',' ORDER BY id)) FROM entries";
  const std::string ledger_a = cluster.Psql("ledger", entries_sql);
  const std::string time_a = dhanbak::test::PointInTime(cluster);
  cluster.Psql("ledger", "DELETE FROM entries WHERE id > 10");
  env.SwitchAndWaitArchived(cluster, std::chrono::seconds(180));

  const std::string pgdata = env.dir() + "/restored";
  ProcessResult restored = env.Run({"restore-cluster", "--at", time_a, "--pgdata", pgdata, "--tablespace-map",
                                    space + "=" + dhanbak::test::OwnedDir(env, "restored-space")},
                                   std::chrono::minutes(5));
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  const json stats = emulator.Stats();
  MESSAGE("faults met by base-backup, the archiver and restore-cluster: " << stats.at("faults").dump());
  CHECK(Count(stats, "503") > 0);
  // One database at that second through the same faults, into the live cluster.
  cluster.Psql("postgres", "DROP DATABASE IF EXISTS ledger_b2 WITH (FORCE)");
  ProcessResult one = env.Run({"restore", "ledger", "--at", time_a, "--source", "wal", "--target-db", "ledger_b2"},
                              std::chrono::minutes(5));
  INFO(one.out << one.err);
  REQUIRE(one.exit_code == 0);
  CHECK(cluster.Psql("ledger_b2", entries_sql) == ledger_a);
  CHECK(cluster.Psql("ledger", "SELECT count(*) FROM entries") == "10");  // the live one untouched
  cluster.Psql("postgres", "DROP DATABASE ledger_b2 WITH (FORCE)");
  emulator.ClearFaults();
  dhanbak::test::DataDirServer server(cluster.bindir(), pgdata, "archive_mode = off\n");
  CHECK(dhanbak::test::Digest(server) == state_a);
}

}  // namespace b2_wal_test
