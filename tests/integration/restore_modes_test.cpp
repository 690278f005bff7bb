// Restore safety and selection (issue 3): --replace (verified swap, the old database kept aside,
// refusal while sessions are connected unless --terminate-connections, refusal without --yes
// off a terminal), --table, --target-conninfo to a new server with --globals, and --at
// selection errors.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/db_compare.hpp"
#include "support/dhanbak_workdir.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace restore_modes_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;

namespace {

const std::string kSqlDir = std::string(DHANBAK_SOURCE_DIR) + "/tests/integration/sql/";
const std::string kShop = "shop";
const std::string kShopAtBackup = "shop_at_backup";  // a copy of shop as it was backed up
const std::string kKs = "ks_src";

// `shop` (backed up, then changed) and the kitchen sink, in one repository.
struct Fixture {
  PgCluster& cluster = SharedCluster();
  std::unique_ptr<DhanbakWorkdir> work;
  std::string shop_backup;

  Fixture() {
    cluster.CreateDatabase(kShop);
    cluster.Psql(kShop, R"sql(
      CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE public.invoices (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES public.customers,
                                    issued date NOT NULL, amount numeric(12,2) NOT NULL);
      CREATE TABLE public.notes (id int, body text);
      CREATE INDEX invoices_issued ON public.invoices (issued);
      INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g;
      INSERT INTO public.invoices (customer_id, issued, amount)
        SELECT 1 + g % 50, date '2024-01-01' + g % 300, g * 1.25 FROM generate_series(1, 2000) g;
      INSERT INTO public.notes SELECT g, repeat('note ', g % 20) FROM generate_series(1, 300) g;
    )sql");
    cluster.Psql("postgres", "COMMENT ON DATABASE shop IS 'the live shop'");
    cluster.CreateDatabase(kShopAtBackup, "TEMPLATE " + kShop);
    cluster.CreateDatabase(kKs);
    cluster.RunSqlFile(kKs, kSqlDir + "kitchen_sink.sql", {{"dbname", kKs}});

    work = std::make_unique<DhanbakWorkdir>(cluster, WorkdirOptions{{kShop, kKs}, 2, ""});
    work->RunOk({"init"});
    work->RunOk({"backup"});
    auto ids = work->GoodBackups(kShop);
    REQUIRE(ids.size() == 1);
    shop_backup = ids[0];
    // Business goes on after the backup: the incident's damage.
    cluster.Psql(kShop, "DELETE FROM public.invoices WHERE id <= 100; UPDATE public.customers SET name = 'renamed';"
                        "INSERT INTO public.notes VALUES (9999, 'written after the backup')");
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

CompareOptions WithoutDatabaseProperties() {
  CompareOptions o;
  o.database_properties = false;  // CREATE DATABASE ... TEMPLATE does not copy the comment
  return o;
}

std::string ShopFingerprint(PgCluster& cluster, const std::string& db) {
  return cluster.Psql(db, "SELECT (SELECT count(*) FROM public.invoices), (SELECT min(name) FROM public.customers), "
                          "(SELECT count(*) FROM public.notes)");
}

// Databases a --replace creates: the old one kept aside, and the temporary restore.
std::vector<std::string> ReplaceCopies(PgCluster& cluster) {
  auto names = DatabasesWithPrefix(cluster, kShop + "_before_restore_");
  for (auto& n : DatabasesWithPrefix(cluster, "dhanbak_restoring_")) names.push_back(n);
  return names;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("--replace off a terminal without --yes is refused with exit 2 and changes nothing") {
  Fixture& f = Shared();
  const std::string before = ShopFingerprint(f.cluster, kShop);
  ProcessResult r = f.work->Run({"restore", kShop, "--replace"});  // stdin is /dev/null
  CHECK_MESSAGE(r.exit_code == 2, Describe(r));
  CHECK_MESSAGE(Contains(r.err, "--yes"), r.err);
  CHECK(ShopFingerprint(f.cluster, kShop) == before);
  CHECK(ReplaceCopies(f.cluster).empty());  // no aside copy, no temporary restore
}

TEST_CASE("--replace on a terminal asks for the database name; a wrong answer changes nothing") {
  Fixture& f = Shared();
  const std::string before = ShopFingerprint(f.cluster, kShop);
  // script(1) gives dhanbak a pseudo-terminal as stdin; the answer typed is not the database name.
  std::string command;
  for (const auto& a : f.work->Argv({"restore", kShop, "--replace"})) command += "'" + a + "' ";
  ProcessOptions typed;
  typed.stdin_text = "not-the-name\n";
  typed.timeout = std::chrono::minutes(2);
  ProcessResult r = RunProcess({"script", "-qefc", command, "/dev/null"}, typed);
  CHECK_MESSAGE(r.exit_code == 2, Describe(r));
  CHECK_MESSAGE(Contains(r.out, "Type the database name"), r.out);
  CHECK_MESSAGE(Contains(r.out, "not confirmed"), r.out);
  CHECK(ShopFingerprint(f.cluster, kShop) == before);
  CHECK(ReplaceCopies(f.cluster).empty());
}

TEST_CASE("--replace: refused while a session is connected, then --terminate-connections swaps, keeping the old database") {
  Fixture& f = Shared();
  const std::string changed = ShopFingerprint(f.cluster, kShop);
  REQUIRE(changed != ShopFingerprint(f.cluster, kShopAtBackup));

  ProcessOptions session_env;
  session_env.env = f.cluster.PgEnv(kShop);
  BackgroundProcess session({f.cluster.Tool("psql"), "-X", "-c", "SELECT 'connected'", "-c", "SELECT pg_sleep(60)"},
                            session_env);
  REQUIRE(session.WaitForOutput("connected", 20s));

  ProcessResult refused = f.work->Run({"restore", kShop, "--replace", "--yes"});
  CHECK_MESSAGE(refused.exit_code != 0, Describe(refused));
  CHECK_MESSAGE(Contains(refused.err, "--terminate-connections"), refused.err);
  CHECK(session.Running());
  CHECK(ShopFingerprint(f.cluster, kShop) == changed);
  CHECK_MESSAGE(ReplaceCopies(f.cluster).empty(), "left behind: " << ReplaceCopies(f.cluster).size() << " databases");

  ProcessResult swapped = f.work->Run({"restore", kShop, "--replace", "--yes", "--terminate-connections"});
  REQUIRE_MESSAGE(swapped.exit_code == 0, Describe(swapped));
  ProcessResult ended = session.Wait(20s);
  CHECK_FALSE(ended.timed_out);
  CHECK(ended.exit_code != 0);  // its backend was terminated

  // The live name now holds the backup's contents, with the database's properties.
  CompareResult live = CompareDatabases(f.cluster, kShopAtBackup, kShop, "", WithoutDatabaseProperties());
  CHECK_MESSAGE(live.equal, live.Summary());
  CHECK(f.cluster.Psql("postgres", "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'shop'") ==
        "the live shop");
  // The changed database is kept aside, never dropped.
  auto aside = DatabasesWithPrefix(f.cluster, kShop + "_before_restore_");
  REQUIRE(aside.size() == 1);
  CHECK(ShopFingerprint(f.cluster, aside[0]) == changed);
  CHECK(f.cluster.Psql(aside[0], "SELECT body FROM public.notes WHERE id = 9999") == "written after the backup");
  CHECK_MESSAGE(Contains(swapped.out, aside[0]), swapped.out);
  // No temporary database remains.
  CHECK(ReplaceCopies(f.cluster) == aside);
}

TEST_CASE("--table restores only the named table's rows beside the live database") {
  Fixture& f = Shared();
  const std::string target = "shop_invoices_only";
  f.cluster.DropDatabase(target);
  ProcessResult r = f.work->Run({"restore", kShop, "--backup", f.shop_backup, "--target-db", target, "--table",
                                 "public.invoices"});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  CompareOptions only;
  only.tables = {"public.invoices"};
  only.schema = false;  // other tables exist empty, foreign keys are left out
  only.sequences = false;
  only.database_properties = false;
  CompareResult same = CompareDatabases(f.cluster, kShopAtBackup, target, "", only);
  CHECK_MESSAGE(same.equal, same.Summary());
  CHECK(f.cluster.Psql(target, "SELECT count(*) FROM public.invoices") == "2000");
  CHECK(f.cluster.Psql(target, "SELECT count(*) FROM public.customers") == "0");
  CHECK(f.cluster.Psql(target, "SELECT count(*) FROM public.notes") == "0");
  // The table's own schema objects came along.
  CHECK(f.cluster.Psql(target, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('invoices_pkey', 'invoices_issued')") ==
        "2");
  // The live database was not touched.
  CHECK(f.cluster.DatabaseExists(kShop));
  // A table that is not in the backup is an error naming it.
  ProcessResult missing = f.work->Run({"restore", kShop, "--target-db", "shop_nothing", "--table", "public.nope"});
  CHECK(missing.exit_code != 0);
  CHECK_MESSAGE(Contains(missing.err, "public.nope"), missing.err);
  CHECK_FALSE(f.cluster.DatabaseExists("shop_nothing"));
  f.cluster.DropDatabase(target);
}

TEST_CASE("--target-conninfo with --globals restores the kitchen sink onto a new server, roles included") {
  Fixture& f = Shared();
  PgCluster new_server;
  CHECK(new_server.Psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ks\\_%'") == "0");
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(new_server.port()) + " user=postgres";
  // Without --globals the bare server lacks the owner role: a clear failure, nothing left behind.
  ProcessResult bare = f.work->Run({"restore", kKs, "--target-conninfo", conninfo, "--target-db", kKs});
  CHECK_MESSAGE(bare.exit_code != 0, Describe(bare));
  CHECK_MESSAGE(Contains(bare.err, "ks_owner"), bare.err);
  CHECK_FALSE(new_server.DatabaseExists(kKs));
  ProcessResult r = f.work->Run({"restore", kKs, "--target-conninfo", conninfo, "--globals", "--target-db", kKs});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(new_server.Psql("postgres", "SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles "
                                    "WHERE rolname LIKE 'ks\\_%'") == "ks_owner:true,ks_reader:true,ks_writer:false");
  CHECK(new_server.Psql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'ks_src'") ==
        "ks_owner");
  CHECK(new_server.Psql(kKs, "SELECT count(*) FROM ks_app.secrets") == "30");
  CompareResult same = CompareDatabases(f.cluster, kKs, kKs, conninfo);
  CHECK_MESSAGE(same.equal, same.Summary());
}

TEST_CASE("--at before the first backup names the earliest backup; a future or malformed time is exit 2") {
  Fixture& f = Shared();
  ProcessResult early = f.work->Run({"restore", kShop, "--at", "2001-02-03", "--target-db", "shop_early"});
  CHECK_MESSAGE(early.exit_code != 0, Describe(early));
  CHECK(early.exit_code != 2);  // not a usage error: there is just no backup that old
  CHECK_MESSAGE(Contains(early.err, "earliest"), early.err);
  CHECK_MESSAGE(Contains(early.err, f.shop_backup), early.err);
  CHECK_FALSE(f.cluster.DatabaseExists("shop_early"));

  for (const std::string at : {"2999-01-01", "2999-01-01T10:00", "yesterday-ish", "2024-13-45", "2024-02-30"}) {
    CAPTURE(at);
    ProcessResult r = f.work->Run({"restore", kShop, "--at", at, "--target-db", "shop_bad_time"});
    CHECK_MESSAGE(r.exit_code == 2, Describe(r));
    CHECK_FALSE(f.cluster.DatabaseExists("shop_bad_time"));
  }
  // And a good time still works.
  ProcessResult latest = f.work->Run({"restore", kShop, "--at", "latest", "--target-db", "shop_latest", "--no-verify"});
  CHECK_MESSAGE(latest.exit_code == 0, Describe(latest));
  f.cluster.DropDatabase("shop_latest");
}

}  // namespace restore_modes_test
