// Fidelity (issue 3): a database restored by dhanbak is indistinguishable from its source.
// The kitchen sink (every feature pg_dump keeps) and a LATIN1 database are backed up once with
// the real binary, restored with jobs=1 and jobs=2 under other names, and compared with the
// database checker (schema, every table's rows, sequences, large objects, database-level
// properties). The negative checks damage a real restore and prove the checker notices.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/db_compare.hpp"
#include "support/dhanbak_workdir.hpp"
#include "support/kitchen_sink_fixture.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace fidelity_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {


bool Mentions(const CompareResult& result, const std::string& needle) {
  for (const auto& d : result.differences) {
    if (d.find(needle) != std::string::npos) return true;
  }
  return false;
}

using Fixture = KitchenSinkFixture;
Fixture& Shared() { return SharedKitchenSink(); }

// restore DB --target-db TARGET --jobs N; REQUIREs success.
void Restore(Fixture& f, const std::string& db, const std::string& target, int jobs) {
  f.cluster.DropDatabase(target);
  ProcessResult r = f.work->Run({"restore", db, "--target-db", target, "--jobs", std::to_string(jobs)});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK_MESSAGE(r.out.find("restored " + db) != std::string::npos, r.out);
}

}  // namespace

TEST_CASE("kitchen sink: backup, restore --target-db with jobs=1 and jobs=2, compares equal") {
  Fixture& f = Shared();
  for (int jobs : {1, 2}) {
    CAPTURE(jobs);
    // A name unlike the source's: properties must follow the database, not its name.
    const std::string target = "ks restored \"" + std::to_string(jobs) + "\"";
    Restore(f, kKs, target, jobs);
    CompareResult r = CompareDatabases(f.cluster, kKs, target);
    CHECK_MESSAGE(r.equal, "jobs=" << jobs << ":\n" << r.Summary());
    f.cluster.DropDatabase(target);
  }
}

TEST_CASE("kitchen sink: pg_dump --schema-only of source and restore are identical") {
  Fixture& f = Shared();
  const std::string target = "ks_schema";
  Restore(f, kKs, target, 2);
  auto dump = [&](const std::string& db) {
    std::string out = RunOrThrow({f.cluster.Tool("pg_dump"), "--schema-only", "-d", f.cluster.Conninfo(db)});
    // PostgreSQL 15.14+ writes a random \restrict key; nothing else may differ.
    std::string kept;
    size_t pos = 0;
    while (pos < out.size()) {
      size_t end = out.find('\n', pos);
      if (end == std::string::npos) end = out.size();
      std::string line = out.substr(pos, end - pos);
      if (!line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict ")) kept += line + "\n";
      pos = end + 1;
    }
    return kept;
  };
  std::string a = dump(kKs);
  std::string b = dump(target);
  CHECK(a.size() > 10000);  // the dump is real
  CHECK_MESSAGE(a == b, "pg_dump --schema-only differs (source " << a.size() << " bytes, restore " << b.size()
                                                                 << " bytes)");
  CHECK(NormalizedSchema(f.cluster, f.cluster.Conninfo(kKs)) ==
        NormalizedSchema(f.cluster, f.cluster.Conninfo(target)));
  f.cluster.DropDatabase(target);
}

TEST_CASE("kitchen sink: restore under another name keeps database properties and every date (DateStyle SQL, DMY)") {
  Fixture& f = Shared();
  const std::string target = "ks_props";
  Restore(f, kKs, target, 2);
  auto props = [&](const std::string& db) {
    return f.cluster.Psql(
        "postgres",
        "SELECT pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, d.datlocprovider, r.rolname, "
        "d.datconnlimit, d.datacl::text, shobj_description(d.oid, 'pg_database') FROM pg_database d "
        "JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = " + QuoteLiteral(db));
  };
  const std::string source_props = props(kKs);
  CHECK(source_props.find("|ks_owner|50|") != std::string::npos);
  CHECK(props(target) == source_props);
  auto settings = [&](const std::string& db) {
    return f.cluster.Psql("postgres",
                          "SELECT coalesce(r.rolname, '-'), array_to_string(s.setconfig, ';') FROM pg_db_role_setting s "
                          "JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole "
                          "WHERE d.datname = " + QuoteLiteral(db) + " ORDER BY 1");
  };
  CHECK(settings(kKs).find("DateStyle=SQL, DMY") != std::string::npos);
  CHECK(settings(target) == settings(kKs));

  // The restored database still defaults to SQL, DMY ...
  CHECK(f.cluster.Psql(target, "SHOW DateStyle") == "SQL, DMY");
  CHECK(f.cluster.Psql(target, "SELECT date '2024-01-15'") == "15/01/2024");
  // ... and not a single date, timestamp or date range moved (compared as ISO text).
  const std::string dates =
      "SET DateStyle = ISO; SET TimeZone = UTC;"
      "SELECT md5(string_agg(id || ':' || occurred, ',' ORDER BY id, occurred)), count(*), "
      "count(*) FILTER (WHERE extract(day FROM occurred) <= 12) FROM ks_app.events;"
      "SELECT md5(string_agg(concat_ws('|', id, c_date, c_ts, c_tstz, c_daterange, c_tsrange), ',' ORDER BY id)) "
      "FROM ks_app.all_types";
  std::string before = f.cluster.Psql(kKs, dates);
  CHECK(before.find("|0\n") == std::string::npos);  // there are ambiguous day/month dates
  CHECK(f.cluster.Psql(target, dates) == before);
  f.cluster.DropDatabase(target);
}

TEST_CASE("LATIN1 database round-trips byte for byte") {
  Fixture& f = Shared();
  const std::string target = "l1_restored";
  Restore(f, kLatin1, target, 2);
  CHECK(f.cluster.Psql("postgres", "SELECT pg_encoding_to_char(encoding) || '|' || datcollate FROM pg_database "
                                   "WHERE datname = " + QuoteLiteral(target)) == "LATIN1|C");
  CompareResult r = CompareDatabases(f.cluster, kLatin1, target);
  CHECK_MESSAGE(r.equal, r.Summary());
  // The upper half of LATIN1 is stored as single bytes, exactly as in the source.
  const std::string q = "SELECT length(\"nöm\") || '|' || octet_length(\"nöm\") || '|' || md5(convert_to(\"nöm\", 'LATIN1')) "
                        "FROM \"schéma\".\"tâble\" WHERE id = 4";
  CHECK(f.cluster.Psql(target, q) == f.cluster.Psql(kLatin1, q));
  CHECK(f.cluster.Psql(target, "SELECT \"nöm\" FROM \"schéma\".\"tâble\" WHERE id = 1") == "Crème brûlée à la française");
  CHECK(f.cluster.Psql(target, "SELECT last_value FROM \"schéma\".\"séquence\"") == "12");
  f.cluster.DropDatabase(target);
}

TEST_CASE("the checker catches damage to a real restore: a missing row, a changed date, a reset sequence") {
  Fixture& f = Shared();
  const std::string target = "ks_damaged";
  Restore(f, kKs, target, 2);
  {
    CompareResult clean = CompareDatabases(f.cluster, kKs, target);
    REQUIRE_MESSAGE(clean.equal, clean.Summary());
  }
  // Damage accumulates; each comparison must name the damage just done.
  f.cluster.Psql(target, "DELETE FROM ks_app.events_2024_south WHERE id = (SELECT min(id) FROM ks_app.events_2024_south)");
  CompareResult missing_row = CompareDatabases(f.cluster, kKs, target);
  CHECK_FALSE(missing_row.equal);
  CHECK_MESSAGE(Mentions(missing_row, "table ks_app.events_2024_south"), missing_row.Summary());
  CHECK_FALSE(Mentions(missing_row, "table ks_app.all_types"));

  f.cluster.Psql(target, "UPDATE ks_app.all_types SET c_date = c_date + 1 WHERE id = (SELECT min(id) FROM "
                         "ks_app.all_types WHERE c_date BETWEEN '1000-01-01' AND '3000-01-01')");
  CompareResult changed_date = CompareDatabases(f.cluster, kKs, target);
  CHECK_MESSAGE(Mentions(changed_date, "table ks_app.all_types"), changed_date.Summary());
  CHECK_MESSAGE(Mentions(changed_date, "contents differ"), changed_date.Summary());
  CHECK_FALSE(Mentions(changed_date, "sequence ks_app.seq_called"));

  f.cluster.Psql(target, "SELECT setval('ks_app.seq_called', 1, false)");
  CompareResult reset_sequence = CompareDatabases(f.cluster, kKs, target);
  CHECK_MESSAGE(Mentions(reset_sequence, "sequence ks_app.seq_called"), reset_sequence.Summary());
  f.cluster.DropDatabase(target);
}

}  // namespace fidelity_test
