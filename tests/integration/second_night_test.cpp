// Second nights (issue 12): after UPDATE of 1% of a table's rows chosen at random, nearly every
// chunk of the table changes (PostgreSQL moves each updated row to the end of the table). The
// next backup stores those chunks as deltas against the previous night's, so the repository
// grows by about the size of the change. Restores read deltas through their bases, prune keeps
// the bases of what it keeps, check names a delta whose base is gone, and the next backup heals
// it by storing the chunk whole.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "format/repository.hpp"
#include "support/db_compare.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace second_night_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using dhanbak::format::Repository;
namespace fs = std::filesystem;

namespace {

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

// The stored delta objects: (chunk object name, base chunk id).
std::vector<std::pair<std::string, std::string>> Deltas(const DhanbakEnv& env) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : fs::recursive_directory_iterator(env.repo_dir() + "/chunks")) {
    if (!e.is_regular_file()) continue;
    std::string name = fs::relative(e.path(), env.repo_dir()).string();
    auto chunk = Repository::ParseChunkName(name);
    if (chunk && !chunk->base.empty()) out.emplace_back(name, chunk->base);
  }
  return out;
}

}  // namespace

TEST_CASE("a second night after 1% random updates stores deltas; restore, prune, check and heal keep working") {
  PgCluster& cluster = SharedCluster();
  const std::string db = "second_night";
  const std::string target = "second_night_restored";
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  // About 24 MB of COPY text: a dozen chunks of the default size.
  cluster.Psql(db,
               "CREATE TABLE invoices (id int PRIMARY KEY, status text, total numeric(12,2), note text);"
               "INSERT INTO invoices SELECT g, 'open', g * 1.25, md5(g::text) || md5((g * 7)::text) "
               "FROM generate_series(1, 300000) g;"
               "CREATE TABLE parties AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 5000) g;");
  DhanbakEnv env({db});
  std::ofstream(env.config_path(), std::ios::app) << "\n[retention]\nkeep_within = \"0s\"\nkeep_last = 1\n";
  env.InitFast();
  env.RunOk({"backup"});
  const uint64_t first_bytes = DirBytes(env.repo_dir() + "/chunks");

  cluster.Psql(db, "UPDATE invoices SET status = 'paid', total = 0 WHERE id IN "
                   "(SELECT id FROM invoices ORDER BY random() LIMIT 3000)");
  ProcessResult second = env.RunOk({"backup"});
  const std::string second_id = LoggedBackupId(second.err, db);
  const uint64_t growth = DirBytes(env.repo_dir() + "/chunks") - first_bytes;
  MESSAGE("second night stored " << growth << " bytes; the first " << first_bytes);
  CHECK_MESSAGE(second.err.find(" of them as deltas") != std::string::npos, second.err);
  CHECK_MESSAGE(second.err.find(" 0 of them as deltas") == std::string::npos, second.err);
  // Stored whole, the changed chunks would be nearly all of the first backup (~95%). Deltas make
  // it 1-3%, but a deleted row that held a chunk boundary makes two old chunks one new one, which
  // is stored whole (its delta against one of them is half its size): with ~10 chunks here each
  // such event costs ~20%, so the bound leaves room for two.
  CHECK(growth * 2 < first_bytes);
  const auto deltas = Deltas(env);
  REQUIRE(!deltas.empty());
  RequireRestoresEqual(cluster, env, db, "", target);
  CHECK(cluster.Psql(db, "SELECT count(*) FROM invoices WHERE status = 'paid'") == "3000");

  // Prune deletes the first backup, whose chunks are now only the bases of the second's deltas:
  // they stay, and the second still restores and checks clean.
  AgeFiles(env.repo_dir() + "/chunks", 2);
  ProcessResult pruned = env.RunOk({"prune"});
  CHECK(env.ListJson().size() == 1);
  for (const auto& [name, base] : deltas) {
    CHECK(fs::exists(env.repo_dir() + "/" + name));
    CHECK(fs::exists(env.repo_dir() + "/" + Repository::ChunkName(base)));
  }
  RequireRestoresEqual(cluster, env, db, "", target);
  ProcessResult check = env.Run({"check", "--read-data"});
  CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);

  // A base lost: check and restore name the delta and its missing base; nothing is left behind.
  const auto& [delta_name, base] = deltas.front();
  const std::string base_name = Repository::ChunkName(base);
  fs::rename(env.repo_dir() + "/" + base_name, env.dir() + "/saved-base");
  check = env.Run({"check"});
  CHECK(check.exit_code == 3);
  CHECK_MESSAGE(check.out.find(delta_name) != std::string::npos, check.out << check.err);
  CHECK_MESSAGE(check.out.find(base_name) != std::string::npos, check.out << check.err);
  cluster.DropDatabase(target);
  ProcessResult restore = env.Run({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(restore.exit_code == 3);
  CHECK_MESSAGE(restore.err.find(base_name) != std::string::npos, restore.err);
  CHECK_FALSE(cluster.DatabaseExists(target));

  // The data is unchanged since: the next backup meets the damaged chunk again and stores it
  // whole, and the backup that needed the delta restores again (through the whole copy).
  ProcessResult third = env.RunOk({"backup"});
  CHECK_MESSAGE(third.err.find("stored damaged chunk") != std::string::npos, third.err);
  RequireRestoresEqual(cluster, env, db, "", target);
  RequireRestoresEqual(cluster, env, db, second_id, target);
  check = env.Run({"check", "--read-data"});
  CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);
  cluster.DropDatabase(db);
}

}  // namespace second_night_test
