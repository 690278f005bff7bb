// Table shapes (issue 7, "a valid schema must always restore"): every table shape PostgreSQL
// allows — inheritance children attached later with their own column order, multiple
// inheritance, dropped columns in parents and children, generated and identity columns,
// zero-column tables, typed tables, partitions with their own column order at two levels —
// restores with the same columns in the same order, the same local/inherited status of columns
// and constraints, and the same rows; verification and --replace succeed.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "support/db_compare.hpp"
#include "support/dhanbak_workdir.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace table_shapes_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {

const std::string kShapes = "shapes";
const std::string kSql = std::string(DHANBAK_SOURCE_DIR) + "/tests/integration/sql/table_shapes.sql";

// Columns of every table in attnum order (dropped ones left out) with what ALTER TABLE ... INHERIT
// and CREATE TABLE ... INHERITS treat differently, and the locality of check constraints.
std::string Layout(PgCluster& cluster, const std::string& db) {
  return cluster.Psql(db, R"sql(
    SELECT c.relname || ': ' || string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
           CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
           CASE WHEN c.relispartition THEN '' ELSE ' local=' || a.attislocal || ' inh=' || a.attinhcount END ||
           ' gen=' || a.attgenerated::text || ' id=' || a.attidentity::text, ', ' ORDER BY a.attnum)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    GROUP BY c.relname, c.relispartition ORDER BY c.relname;
    SELECT conrelid::regclass || ' ' || conname || ' local=' || conislocal || ' inh=' || coninhcount ||
           ' noinherit=' || connoinherit
    FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace ORDER BY 1;)sql");
}

struct ShapesFixture {
  PgCluster& cluster = SharedCluster();
  std::unique_ptr<DhanbakWorkdir> work;
  ShapesFixture() {
    cluster.CreateDatabase(kShapes);
    cluster.RunSqlFile(kShapes, kSql, {});
    work = std::make_unique<DhanbakWorkdir>(cluster, WorkdirOptions{{kShapes}, 2, ""});
    work->RunOk({"init"});
    work->RunOk({"backup"});
  }
};

ShapesFixture& Shared() {
  static ShapesFixture f;
  return f;
}

}  // namespace

TEST_CASE("table shapes: the corpus really has the shapes pg_dump's script reorders") {
  ShapesFixture& f = Shared();
  std::string layout = Layout(f.cluster, kShapes);
  // Own columns before the inherited ones: what CREATE TABLE ... INHERITS cannot reproduce.
  CHECK(layout.find("child_attached: x integer local=true inh=0") != std::string::npos);
  CHECK(layout.find("child_multi: n text local=true inh=1") != std::string::npos);
  CHECK(layout.find("measures_2020: v text") != std::string::npos);
}

TEST_CASE("table shapes: restore keeps column order, locality and rows (jobs 1 and 2)") {
  ShapesFixture& f = Shared();
  const std::string expected = Layout(f.cluster, kShapes);
  for (int jobs : {1, 2}) {
    CAPTURE(jobs);
    const std::string target = "shapes restored " + std::to_string(jobs);
    ProcessResult r = f.work->Run({"restore", kShapes, "--target-db", target, "--jobs", std::to_string(jobs)});
    REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
    CHECK(r.out.find("schema matches the backup") != std::string::npos);
    CHECK(Layout(f.cluster, target) == expected);
    CompareResult cmp = CompareDatabases(f.cluster, kShapes, target);
    CHECK_MESSAGE(cmp.equal, cmp.Summary());
    f.cluster.DropDatabase(target);
  }
}

TEST_CASE("table shapes: verify passes and --replace swaps in a faithful copy") {
  ShapesFixture& f = Shared();
  ProcessResult v = f.work->Run({"verify", kShapes});
  CHECK_MESSAGE(v.exit_code == 0, Describe(v));

  const std::string expected = Layout(f.cluster, kShapes);
  ProcessResult r = f.work->Run({"restore", kShapes, "--replace", "--yes"});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(Layout(f.cluster, kShapes) == expected);
  CHECK(f.cluster.Psql(kShapes, "SELECT count(*) FROM ONLY child_multi") == "1");
}

TEST_CASE("table shapes: export loaded with psql alone keeps column order and locality") {
  ShapesFixture& f = Shared();
  const std::string expected = Layout(f.cluster, kShapes);
  const std::string file = f.work->dir() + "/shapes.sql";
  ProcessResult r = f.work->Run({"export", kShapes, "-o", file});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  const std::string target = "shapes_from_export";
  f.cluster.DropDatabase(target);
  f.cluster.CreateDatabase(target, "TEMPLATE template0");
  f.cluster.RunSqlFile(target, file, {});
  CHECK(Layout(f.cluster, target) == expected);
  CHECK(f.cluster.Psql(target, "SELECT x, y, a, b, c FROM ONLY child_attached") == "10|y|11|12|ca");
  f.cluster.DropDatabase(target);
}

}  // namespace table_shapes_test
