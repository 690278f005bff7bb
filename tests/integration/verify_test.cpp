// dhanbak verify (issue 3): restore into scratch databases, check every table and the schema,
// drop the scratch database — after success, after a corrupted chunk (exit 3) and on SIGTERM —
// and use the [verify] conninfo server when one is configured.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/dhanbak_workdir.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace verify_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kScratchPrefix = "dhanbak_verify_";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void MakeSmallDatabase(PgCluster& cluster, const std::string& db) {
  cluster.CreateDatabase(db);
  cluster.Psql(db, R"sql(
    CREATE SCHEMA app;
    CREATE TABLE app.items (id int PRIMARY KEY, label text, price numeric(10,2), added date);
    INSERT INTO app.items SELECT g, 'item ' || g, g / 7.0, date '2023-06-01' + g % 400 FROM generate_series(1, 5000) g;
    CREATE TABLE app.tags (item_id int REFERENCES app.items, tag text);
    INSERT INTO app.tags SELECT g % 5000 + 1, md5(g::text) FROM generate_series(1, 3000) g;
    CREATE SEQUENCE app.counter;
    SELECT setval('app.counter', 321);
  )sql");
  cluster.Psql("postgres", "ALTER DATABASE " + QuoteIdent(db) + " SET DateStyle = 'SQL, DMY'");
}

// Two small databases backed up into one repository.
struct Fixture {
  PgCluster& cluster = SharedCluster();
  std::unique_ptr<DhanbakWorkdir> work;

  Fixture() {
    MakeSmallDatabase(cluster, "alpha");
    MakeSmallDatabase(cluster, "beta db");
    work = std::make_unique<DhanbakWorkdir>(cluster, WorkdirOptions{{"alpha", "beta db"}, 2, ""});
    work->RunOk({"init"});
    work->RunOk({"backup"});
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

std::vector<fs::path> ChunkFiles(const std::string& repo_dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(repo_dir) / "chunks")) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

void FlipByte(const fs::path& file, std::streamoff offset) {
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(io);
  io.seekg(offset);
  char c = 0;
  io.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  io.seekp(offset);
  io.write(&c, 1);
  io.close();
  REQUIRE(io);
}

}  // namespace

TEST_CASE("verify --all --json: every database ok, JSON parses, scratch databases dropped") {
  Fixture& f = Shared();
  ProcessResult r = f.work->Run({"verify", "--all", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  // No [verify] conninfo: the scratch load goes to the production server, and it says so.
  CHECK_MESSAGE(Contains(r.err, "no [verify] conninfo: the scratch restores run on the production server"), r.err);
  nlohmann::json doc;
  REQUIRE_NOTHROW(doc = nlohmann::json::parse(r.out));
  REQUIRE(doc.contains("verifications"));
  const auto& v = doc.at("verifications");
  REQUIRE(v.size() == 2);
  std::vector<std::string> names;
  for (const auto& entry : v) {
    names.push_back(entry.at("database").get<std::string>());
    CHECK_MESSAGE(entry.at("status") == "ok", entry.dump(2));
    CHECK(entry.at("schema_ok") == true);
    CHECK(!entry.at("backup_id").get<std::string>().empty());
    const auto& tables = entry.at("tables");
    CHECK(tables.size() == 2);
    for (const auto& t : tables) {
      CHECK_MESSAGE(t.at("ok") == true, t.dump());
      CHECK(t.at("expected_rows") == t.at("actual_rows"));
    }
    auto items = std::find_if(tables.begin(), tables.end(), [](const auto& t) { return t.at("table") == "app.items"; });
    REQUIRE(items != tables.end());
    CHECK(items->at("actual_rows") == 5000);
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"alpha", "beta db"});
  CHECK(DatabasesWithPrefix(f.cluster, kScratchPrefix).empty());
  // The plain-text form says ok for each database too.
  ProcessResult plain = f.work->Run({"verify", "alpha"});
  CHECK_MESSAGE(plain.exit_code == 0, Describe(plain));
  CHECK(Contains(plain.out, "ok"));
  CHECK(Contains(plain.out, "alpha"));
  CHECK(DatabasesWithPrefix(f.cluster, kScratchPrefix).empty());
}

TEST_CASE("verify uses the [verify] conninfo server for its scratch databases") {
  Fixture& f = Shared();
  PgCluster verify_server;
  // Record every CREATE DATABASE on both servers.
  for (PgCluster* c : {&f.cluster, &verify_server}) {
    c->Psql("postgres", "ALTER SYSTEM SET log_statement = 'ddl'; SELECT pg_reload_conf()");
  }
  std::this_thread::sleep_for(300ms);
  auto log_has_scratch = [](const PgCluster& c) {
    std::ifstream in(c.log_file());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return Contains(text, "CREATE DATABASE \"" + kScratchPrefix) || Contains(text, "CREATE DATABASE " + kScratchPrefix);
  };
  REQUIRE_FALSE(log_has_scratch(verify_server));
  const bool main_before = log_has_scratch(f.cluster);

  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(verify_server.port()) + " user=postgres";
  f.work->WriteConfig(WorkdirOptions{{"alpha", "beta db"}, 2, conninfo});
  ProcessResult r = f.work->Run({"verify", "alpha", "--json"});
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK_FALSE(Contains(r.err, "no [verify] conninfo"));
  CHECK_MESSAGE(log_has_scratch(verify_server), "no scratch database was created on the [verify] server");
  if (!main_before) CHECK_MESSAGE(!log_has_scratch(f.cluster), "a scratch database was created on the [postgres] server");
  CHECK(DatabasesWithPrefix(verify_server, kScratchPrefix).empty());
  CHECK(DatabasesWithPrefix(f.cluster, kScratchPrefix).empty());

  // And an unreachable [verify] server makes verify fail rather than fall back silently.
  f.work->WriteConfig(WorkdirOptions{{"alpha", "beta db"}, 2, "host=127.0.0.1 port=1 user=postgres connect_timeout=3"});
  ProcessResult unreachable = f.work->Run({"verify", "alpha"});
  CHECK_MESSAGE(unreachable.exit_code != 0, Describe(unreachable));
  CHECK(DatabasesWithPrefix(f.cluster, kScratchPrefix).empty());
  f.work->WriteConfig(WorkdirOptions{{"alpha", "beta db"}, 2, ""});
}

TEST_CASE("verify and restore of a database with a subscription: scratch dropped, the live slot left alone") {
  PgCluster& cluster = SharedCluster();
  // A subscription makes DROP DATABASE fail ("being used by logical replication subscription"),
  // and DROP SUBSCRIPTION with a slot name would drop that slot on the publisher: the slot of
  // the live database's subscription, which the restored copy only names.
  cluster.CreateDatabase("subscribed");
  cluster.Psql("subscribed", "CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric)");
  cluster.Psql("subscribed", "INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g");
  cluster.Psql("subscribed", "CREATE SUBSCRIPTION live_sub CONNECTION 'host=127.0.0.1 port=1 dbname=publisher' "
                             "PUBLICATION orders_pub WITH (connect = false, slot_name = 'live_slot')");
  const std::string subscriptions =
      "SELECT d.datname || ':' || s.subname || ':' || coalesce(s.subslotname::text, 'NONE') || ':' || s.subenabled "
      "FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid ORDER BY 1";
  REQUIRE(cluster.Psql("postgres", subscriptions) == "subscribed:live_sub:live_slot:false");
  DhanbakWorkdir work(cluster, WorkdirOptions{{"subscribed"}, 2, ""});
  work.RunOk({"init"});
  work.RunOk({"backup"});

  ProcessResult verify = work.Run({"verify", "subscribed"});
  CHECK_MESSAGE(verify.exit_code == 0, Describe(verify));
  CHECK_MESSAGE(DatabasesWithPrefix(cluster, kScratchPrefix).empty(), Describe(verify));
  CHECK_FALSE(Contains(verify.err, "could not drop"));
  // The restored copy keeps the subscription as pg_restore makes it: disabled, naming the slot.
  ProcessResult restore = work.Run({"restore", "subscribed", "--target-db", "subscribed_copy"});
  CHECK_MESSAGE(restore.exit_code == 0, Describe(restore));
  CHECK(cluster.Psql("postgres", subscriptions) ==
        "subscribed:live_sub:live_slot:false\nsubscribed_copy:live_sub:live_slot:false");

  for (const std::string db : {"subscribed", "subscribed_copy"}) {
    if (!cluster.DatabaseExists(db)) continue;
    cluster.Psql(db, "ALTER SUBSCRIPTION live_sub SET (slot_name = NONE)");
    cluster.Psql(db, "DROP SUBSCRIPTION live_sub");
    cluster.DropDatabase(db);
  }
}

TEST_CASE("verify: a corrupted chunk gives exit 3 and leaves no scratch database") {
  PgCluster& cluster = SharedCluster();
  // A repository of its own: corrupting the shared one would break the other cases.
  cluster.CreateDatabase("gamma");
  cluster.Psql("gamma", "CREATE TABLE public.data (id int, payload text);"
                        "INSERT INTO public.data SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 40000) g");
  DhanbakWorkdir work(cluster, WorkdirOptions{{"gamma"}, 2, ""});
  work.RunOk({"init"});
  work.RunOk({"backup"});
  REQUIRE(work.Run({"verify", "gamma"}).exit_code == 0);

  // The largest chunk is table data; flip one byte in the middle of it.
  auto files = ChunkFiles(work.repo_dir());
  REQUIRE(!files.empty());
  auto largest = *std::max_element(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return fs::file_size(a) < fs::file_size(b);
  });
  REQUIRE(fs::file_size(largest) > 1000);
  FlipByte(largest, static_cast<std::streamoff>(fs::file_size(largest) / 2));

  ProcessResult r = work.Run({"verify", "gamma", "--json"});
  CHECK_MESSAGE(r.exit_code == 3, Describe(r));
  CHECK(DatabasesWithPrefix(cluster, kScratchPrefix).empty());
  nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
  CHECK_MESSAGE(!doc.is_discarded(), "verify --json printed no JSON document: " << Describe(r));
  if (!doc.is_discarded()) {
    REQUIRE(doc.at("verifications").size() == 1);
    CHECK(doc.at("verifications")[0].at("status") == "failed");
    CHECK(doc.at("verifications")[0].at("detail").get<std::string>().find("chunks/") != std::string::npos);
  }
  // A restore of the same backup fails the same way and leaves nothing either.
  ProcessResult restore = work.Run({"restore", "gamma", "--target-db", "gamma_restored"});
  CHECK_MESSAGE(restore.exit_code == 3, Describe(restore));
  CHECK_FALSE(cluster.DatabaseExists("gamma_restored"));
  cluster.DropDatabase("gamma");
}

TEST_CASE("verify: SIGTERM mid-run exits non-zero and drops the scratch database") {
  PgCluster& cluster = SharedCluster();
  cluster.CreateDatabase("big");
  // ~60 MB of poorly compressible text, so the load takes a few seconds.
  cluster.Psql("big", "CREATE TABLE public.blob (id int, payload text);"
                      "INSERT INTO public.blob SELECT g, (SELECT string_agg(md5((g * 31 + k)::text), '') "
                      "FROM generate_series(1, 8) k) FROM generate_series(1, 220000) g");
  CHECK(std::stoll(cluster.Psql("big", "SELECT pg_table_size('public.blob')")) > 50ll * 1024 * 1024);
  DhanbakWorkdir work(cluster, WorkdirOptions{{"big"}, 1, ""});
  work.RunOk({"init"});
  work.RunOk({"backup"});

  ProcessOptions options;
  options.unset_env = {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE"};
  BackgroundProcess verify(work.Argv({"-v", "verify", "big"}), options);
  // Wait until the scratch database exists and the table load has begun.
  REQUIRE_MESSAGE(verify.WaitForOutput("loading", 60s), verify.Stderr());
  auto scratch = DatabasesWithPrefix(cluster, kScratchPrefix);
  CHECK(scratch.size() == 1);
  std::this_thread::sleep_for(100ms);
  REQUIRE_MESSAGE(verify.Running(), "verify finished before it could be interrupted:\n" << verify.Stderr());
  verify.Signal(SIGTERM);
  ProcessResult r = verify.Wait(60s);
  CHECK_FALSE(r.timed_out);
  CHECK_MESSAGE(r.exit_code != 0, Describe(r));
  CHECK_MESSAGE(DatabasesWithPrefix(cluster, kScratchPrefix).empty(), Describe(r));
  // Reported bug: today this says "internal error: std::future_error" (see ChunkFetcher).
  CHECK_MESSAGE(Contains(r.err, "interrupted by SIGTERM"), Describe(r));
  CHECK_FALSE(Contains(r.out, "ok      big"));
  // The repository and server are fine afterwards: a later verify succeeds.
  ProcessResult again = work.Run({"verify", "big"});
  CHECK_MESSAGE(again.exit_code == 0, Describe(again));
  CHECK(DatabasesWithPrefix(cluster, kScratchPrefix).empty());
  cluster.DropDatabase("big");
}

}  // namespace verify_test
