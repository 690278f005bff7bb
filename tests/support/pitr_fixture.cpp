#include "support/pitr_fixture.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace dhanbak::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A directory inside the env that the server's OS user (who runs dhanbak there) may write.
std::string OwnedDir(const WalArchiveEnv& env, const std::string& name) {
  std::string dir = env.dir() + "/" + name;
  fs::create_directories(dir);
  GiveToServerUser(dir);
  return dir;
}

// A tablespace directory that lives as long as the cluster (an env's directory goes with its test).
std::string TablespaceDir(const PgCluster& cluster, const std::string& name) {
  std::string dir = cluster.base_dir() + "/" + name;
  fs::create_directories(dir);
  GiveToServerUser(dir);
  return dir;
}

void PointAt(const WalArchiveEnv& env, const PgCluster& cluster) {
  std::ofstream(env.config_path(), std::ios::app)
      << "[postgres]\nconninfo = \"host=127.0.0.1 port=" << cluster.port() << " user=postgres\"\n";
}

// The contents of both test databases: a table in a tablespace, and one in another database.
std::string Digest(const std::function<std::string(const std::string&, const std::string&)>& psql) {
  return psql("ledger", "SELECT count(*) || ':' || md5(string_agg(id || '/' || amount || '/' || note, ',' ORDER BY id)) "
                        "FROM entries") +
         " " + psql("payroll", "SELECT count(*) || ':' || coalesce(sum(gross), 0) FROM slips");
}
std::string Digest(const PgCluster& c) {
  return Digest([&](const std::string& db, const std::string& sql) { return c.Psql(db, sql); });
}
std::string Digest(const DataDirServer& s) {
  return Digest([&](const std::string& db, const std::string& sql) { return s.Psql(db, sql); });
}

// The server's clock now, in UTC (after a pause, so that it lies strictly between two commits).
std::string PointInTime(const PgCluster& c) {
  std::this_thread::sleep_for(1100ms);
  std::string t = c.Psql("postgres", "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                                     "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  std::this_thread::sleep_for(1100ms);
  return t;
}

std::string WriteIntoLostSegment(const WalArchiveEnv& env, PgCluster& cluster) {
  cluster.Psql("ledger", "INSERT INTO entries VALUES (9002, 2, 'in the lost segment')");
  const std::string lost = env.SwitchAndWaitArchived(cluster);
  for (const auto& entry : fs::recursive_directory_iterator(env.repo_dir() + "/wal")) {
    if (entry.path().filename().string().starts_with(lost + "-")) fs::remove(entry.path());
  }
  return lost;
}

void CreateSchema(const PgCluster& cluster, const std::string& tablespace_dir) {
  cluster.Psql("postgres", "DROP DATABASE IF EXISTS ledger WITH (FORCE); DROP DATABASE IF EXISTS payroll WITH (FORCE);"
                           "DROP TABLESPACE IF EXISTS bb_space");
  cluster.Psql("postgres", "CREATE TABLESPACE bb_space LOCATION '" + tablespace_dir + "'");
  cluster.CreateDatabase("ledger");
  cluster.CreateDatabase("payroll");
  cluster.Psql("ledger",
               "CREATE TABLE entries(id int PRIMARY KEY, amount numeric(12,2) NOT NULL, note text) TABLESPACE bb_space;"
               "INSERT INTO entries SELECT g, g * 1.25, md5(g::text) FROM generate_series(1, 5000) g");
  cluster.Psql("payroll", "CREATE TABLE slips(id serial PRIMARY KEY, gross numeric NOT NULL);"
                          "INSERT INTO slips(gross) SELECT g FROM generate_series(1, 100) g");
}

std::string Ledger(const PgCluster& c, const std::string& db) {
  return c.Psql(db, "SELECT count(*) || ':' || coalesce(md5(string_agg(id || '/' || amount || '/' || coalesce(note, '-'), "
                    "',' ORDER BY id)), '') FROM entries");
}

std::string Payroll(const PgCluster& c, const std::string& db) {
  return c.Psql(db, "SELECT count(*) || ':' || coalesce(sum(gross), 0) FROM slips");
}

bool HasDatabase(const PgCluster& c, const std::string& db) {
  return c.Psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + db + "'") == "1";
}

std::vector<std::string> ScratchContents(const WalArchiveEnv& env) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(env.scratch_dir(), ec)) names.push_back(e.path().filename().string());
  return names;
}

ProcessResult PitrRestore(const WalArchiveEnv& env, const std::vector<std::string>& args, const std::string& tz) {
  std::vector<std::string> argv{"restore"};
  argv.insert(argv.end(), args.begin(), args.end());
  return env.Run(argv, std::chrono::minutes(5), tz);
}

void DropDatabases(const PgCluster& c, const std::vector<std::string>& names) {
  for (const auto& db : names) c.Psql("postgres", "DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
}

std::string PreparePitr(PgCluster& cluster, const WalArchiveEnv& env, const std::string& space,
                        const std::vector<std::string>& restored) {
  env.EnableArchiving(cluster);
  PointAt(env, cluster);
  const std::string dir = TablespaceDir(cluster, space);
  CreateSchema(cluster, dir);
  DropDatabases(cluster, restored);
  return dir;
}

}  // namespace dhanbak::test
