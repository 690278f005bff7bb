// dhanbak export (issue 3): a plain SQL script that psql alone restores faithfully. The script
// is loaded exactly as its own header tells a user to (createdb ..., psql -X -v ON_ERROR_STOP=1
// -f), and the result must compare equal to the source, database-level properties included
// (the export applies them to the database it runs in).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/db_compare.hpp"
#include "support/dhanbak_workdir.hpp"
#include "support/kitchen_sink_fixture.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace export_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {


using Fixture = KitchenSinkFixture;
Fixture& Shared() { return SharedKitchenSink(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The `createdb ...` command line from the export's header comment ("--   createdb ... NEWDB"),
// with NEWDB replaced by `target` and connection options for `cluster` added.
std::vector<std::string> CreatedbFromHeader(PgCluster& cluster, const std::string& script, const std::string& target) {
  const std::string marker = "--   createdb ";
  size_t pos = script.find(marker);
  if (pos == std::string::npos || pos > 4096) return {};
  size_t end = script.find('\n', pos);
  std::istringstream words(script.substr(pos + 4, end - pos - 4));
  std::vector<std::string> argv;
  std::string w;
  while (words >> w) argv.push_back(w == "NEWDB" ? target : w);
  if (argv.empty() || argv[0] != "createdb" || argv.back() != target) return {};
  argv[0] = cluster.Tool("createdb");
  argv.insert(argv.begin() + 1, {"-h", "127.0.0.1", "-p", std::to_string(cluster.port()), "-U", "postgres"});
  return argv;
}

// Creates `target` as the header says and runs the script in it with psql alone.
void LoadExport(PgCluster& cluster, const std::string& path, const std::string& target) {
  const std::string script = ReadFile(path);
  auto createdb = CreatedbFromHeader(cluster, script, target);
  REQUIRE_MESSAGE(!createdb.empty(), "no createdb line in the export header:\n" << script.substr(0, 1500));
  cluster.DropDatabase(target);
  ProcessResult created = RunProcess(createdb);
  REQUIRE_MESSAGE(created.exit_code == 0, DescribeCommand(createdb) << "\n" << created.err);
  ProcessResult loaded = RunProcess({cluster.Tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                     cluster.Conninfo(target), "-f", path});
  REQUIRE_MESSAGE(loaded.exit_code == 0, "psql -f " << path << " failed:\n" << loaded.err.substr(0, 4000));
}

// The script minus pg_dump's random \restrict / \unrestrict keys (PostgreSQL 15.14+).
std::string WithoutRestrictKeys(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (!line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict ")) out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("export the kitchen sink to a file; psql alone restores it, equal to the source") {
  Fixture& f = Shared();
  const std::string path = f.work->dir() + "/ks.sql";
  ProcessResult r = f.work->Run({"export", kKs, "-o", path});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(r.out.empty());  // the script went to the file, not to stdout
  REQUIRE(std::filesystem::exists(path));
  CHECK(std::filesystem::file_size(path) > 20u * 1024 * 1024);  // the 20 MB TOASTed value is in it
  LoadExport(f.cluster, path, "ks_from_export");
  CompareResult same = CompareDatabases(f.cluster, kKs, "ks_from_export");
  CHECK_MESSAGE(same.equal, same.Summary());
  CHECK(f.cluster.Psql("ks_from_export", "SHOW DateStyle") == "SQL, DMY");
  f.cluster.DropDatabase("ks_from_export");
}

TEST_CASE("export -o - writes the same script to stdout") {
  Fixture& f = Shared();
  const std::string path = f.work->dir() + "/ks_file.sql";
  f.work->RunOk({"export", kKs, "-o", path});
  ProcessResult r = f.work->Run({"export", kKs, "-o", "-"});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r).substr(0, 4000));
  CHECK(r.out.size() > 20u * 1024 * 1024);
  CHECK(r.out.starts_with("--"));
  CHECK_MESSAGE(WithoutRestrictKeys(r.out) == WithoutRestrictKeys(ReadFile(path)),
                "stdout " << r.out.size() << " bytes, file " << std::filesystem::file_size(path) << " bytes");
  CHECK_FALSE(std::filesystem::exists(f.work->dir() + "/-"));
}

TEST_CASE("export of the LATIN1 database restores byte for byte with psql alone") {
  Fixture& f = Shared();
  const std::string path = f.work->dir() + "/l1.sql";
  ProcessResult r = f.work->Run({"export", kLatin1, "-o", path});
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  LoadExport(f.cluster, path, "l1_from_export");
  CHECK(f.cluster.Psql("postgres", "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'l1_from_export'") ==
        "LATIN1");
  CompareResult same = CompareDatabases(f.cluster, kLatin1, "l1_from_export");
  CHECK_MESSAGE(same.equal, same.Summary());
  f.cluster.DropDatabase("l1_from_export");
}

TEST_CASE("export errors: unknown database, missing -o; no partial file is left") {
  Fixture& f = Shared();
  const std::string path = f.work->dir() + "/nothing.sql";
  ProcessResult unknown = f.work->Run({"export", "no_such_db", "-o", path});
  CHECK(unknown.exit_code != 0);
  CHECK_MESSAGE(unknown.err.find("no_such_db") != std::string::npos, unknown.err);
  CHECK_FALSE(std::filesystem::exists(path));
  ProcessResult no_output = f.work->Run({"export", kKs});
  CHECK_MESSAGE(no_output.exit_code == 2, Describe(no_output));
  ProcessResult bad_time = f.work->Run({"export", kKs, "--at", "2999-01-01", "-o", path});
  CHECK_MESSAGE(bad_time.exit_code == 2, Describe(bad_time));
  CHECK_FALSE(std::filesystem::exists(path));
}

}  // namespace export_test
