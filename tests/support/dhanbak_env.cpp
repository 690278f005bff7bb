#include "support/dhanbak_env.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "format/repository.hpp"
#include "storage/local/local_storage.hpp"
#include "support/build_under_test.hpp"
#include "support/dhanbak_workdir.hpp"
#include "support/temp_root.hpp"

namespace dhanbak::test {
namespace fs = std::filesystem;

DhanbakEnv::DhanbakEnv(std::vector<std::string> databases, std::string passphrase) {
  dir_ = MakeTestTempDir("dhanbak-it");
  SetPassphrase(passphrase);
  std::string dbs;
  for (const auto& d : databases) dbs += (dbs.empty() ? "" : ", ") + TomlString(d);
  std::ofstream toml(config_path());
  toml << "[repository]\n"
       << "url = " << TomlString("file://" + repo_dir()) << "\n"
       << "passphrase = " << TomlString("file:" + passphrase_path()) << "\n\n"
       << "[postgres]\n"
       << "conninfo = " << TomlString(conninfo()) << "\n"
       << "databases = [" << dbs << "]\n"
       << "jobs = 2\n\n"
       << "[catalog]\n"
       << "path = " << TomlString(catalog_path()) << "\n";
  toml.close();
  if (!toml) throw std::runtime_error("cannot write " + config_path());
}

DhanbakEnv::~DhanbakEnv() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string DhanbakEnv::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(SharedCluster().port()) + " user=postgres";
}

void DhanbakEnv::SetPassphrase(const std::string& passphrase) {
  std::string path = passphrase_path();
  {
    std::ofstream out(path, std::ios::trunc);
    out << passphrase << "\n";
  }
  if (::chmod(path.c_str(), 0600) != 0) throw std::runtime_error("chmod failed for " + path);
}

void DhanbakEnv::InitFast() const {
  std::ifstream in(passphrase_path());
  std::string passphrase;
  std::getline(in, passphrase);
  std::filesystem::create_directories(repo_dir());  // as `dhanbak init` does
  storage::LocalStorage storage(repo_dir());
  format::Repository::Init(storage, passphrase, format::kCheapKdf);
}

std::vector<std::string> DhanbakEnv::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {DhanbakBinary(), "-c", config_path(), "--allow-root", "--no-progress"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessOptions DhanbakEnv::Options() const {
  ProcessOptions o;
  o.env = {{"TZ", "UTC"}};
  o.unset_env = {"DHANBAK_CONFIG", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE"};
  o.timeout = std::chrono::minutes(5);
  return o;
}

ProcessResult DhanbakEnv::Run(const std::vector<std::string>& args) const { return RunProcess(Argv(args), Options()); }

ProcessResult DhanbakEnv::RunOk(const std::vector<std::string>& args) const {
  ProcessResult r = Run(args);
  const std::string command = DescribeCommand(Argv(args));
  INFO("command: " << command);
  INFO("exit code: " << r.exit_code);
  INFO("stdout:\n" << r.out);
  INFO("stderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

nlohmann::json DhanbakEnv::ListJson(const std::optional<std::string>& database) const {
  std::vector<std::string> args = {"--json", "list"};
  if (database) args.push_back(*database);
  ProcessResult r = RunOk(args);
  nlohmann::json j = nlohmann::json::parse(r.out);  // throws (failing the test) if not JSON
  REQUIRE(j.contains("backups"));
  REQUIRE(j["backups"].is_array());
  return j["backups"];
}

void GenerateSampleDatabase(PgCluster& cluster, const std::string& name, const std::string& kind,
                            const std::string& scale) {
  cluster.DropDatabase(name);
  cluster.CreateDatabase(name);
  cluster.RunSqlFile(name, std::string(DHANBAK_SOURCE_DIR) + "/scripts/gen-sample-data.sql",
                     {{"db", kind}, {"scale", scale}});
}

int64_t TotalRows(PgCluster& cluster, const std::string& db) {
  // Exact counts, one query per table, summed server-side.
  std::string sql = R"SQL(
    CREATE TEMP TABLE counts(n bigint);
    DO $$
    DECLARE r record; c bigint;
    BEGIN
      FOR r IN SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'r' AND c.relpersistence <> 't'
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      LOOP
        EXECUTE format('SELECT count(*) FROM ONLY %I.%I', r.nspname, r.relname) INTO c;
        INSERT INTO counts VALUES (c);
      END LOOP;
    END $$;
    SELECT coalesce(sum(n), 0) FROM counts;)SQL";
  return std::stoll(cluster.Psql(db, sql));
}

std::string LoggedBackupId(const std::string& stderr_text, const std::string& database) {
  const std::string needle = "backing up " + database + " as ";
  size_t pos = stderr_text.find(needle);
  if (pos == std::string::npos) return "";
  pos += needle.size();
  size_t end = stderr_text.find_first_of(" \n", pos);
  return stderr_text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

void AgeFiles(const std::string& dir, int days) {
  struct utimbuf t {};
  t.actime = t.modtime = std::time(nullptr) - days * 24 * 3600;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ::utime(e.path().c_str(), &t);
}

std::string HoldRunningBackupLock(const DhanbakEnv& env) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  fs::create_directories(env.repo_dir() + "/locks");
  const std::string path = env.repo_dir() + "/locks/0123456789abcdef";
  std::ofstream(path) << "{\"command\":\"backup\",\"host\":\"" << host << "\",\"pid\":" << ::getpid()
                      << ",\"started\":" << std::time(nullptr) << "}";
  return path;
}

void SmallDatabase(PgCluster& cluster, const std::string& name) {
  cluster.DropDatabase(name);
  cluster.CreateDatabase(name);
  cluster.Psql(name, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g");
}

}  // namespace dhanbak::test
