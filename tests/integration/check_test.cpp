// check: every manifest opens and every referenced chunk exists; --read-data authenticates every
// byte. A damaged or missing chunk is reported by name with exit 3.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace check_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
namespace fs = std::filesystem;

namespace {

std::string LargestChunk(const std::string& repo) {
  std::string best;
  uintmax_t size = 0;
  for (auto& e : fs::recursive_directory_iterator(repo + "/chunks")) {
    if (e.is_regular_file() && e.file_size() > size) {
      size = e.file_size();
      best = e.path().string();
    }
  }
  return best;
}

}  // namespace

TEST_CASE("check finds missing and damaged chunks; --read-data reads every byte") {
  PgCluster& cluster = SharedCluster();
  cluster.DropDatabase("check_db");
  cluster.CreateDatabase("check_db");
  cluster.Psql("check_db", "CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g;");
  DhanbakEnv env({"check_db"});
  env.InitFast();
  env.RunOk({"backup"});

  auto ok = env.RunOk({"--json", "check", "--read-data"});
  auto j = nlohmann::json::parse(ok.out);
  CHECK(j["ok"] == true);
  CHECK(j["manifests"] == 1);
  CHECK(j["bytes_read"].get<int64_t>() > 50000 * 30);

  std::string chunk = LargestChunk(env.repo_dir());
  REQUIRE(!chunk.empty());
  std::string name = chunk.substr(env.repo_dir().size() + 1);
  std::string saved;
  {
    std::ifstream in(chunk, std::ios::binary);
    saved.assign(std::istreambuf_iterator<char>(in), {});
  }
  SUBCASE("damaged chunk") {
    std::string bad = saved;
    bad[bad.size() / 2] ^= 0x01;
    std::ofstream(chunk, std::ios::binary | std::ios::trunc) << bad;
    CHECK(env.Run({"check"}).exit_code == 0);  // present: only --read-data reads it
    auto r = env.Run({"check", "--read-data"});
    CHECK(r.exit_code == 3);
    CHECK(r.out.find(name) != std::string::npos);
  }
  SUBCASE("missing chunk") {
    fs::remove(chunk);
    auto r = env.Run({"--json", "check"});
    CHECK(r.exit_code == 3);
    auto jj = nlohmann::json::parse(r.out);
    CHECK(jj["ok"] == false);
    CHECK(jj["problems"].dump().find("is missing") != std::string::npos);
  }
  std::ofstream(chunk, std::ios::binary | std::ios::trunc) << saved;
  CHECK(env.Run({"check", "--read-data"}).exit_code == 0);
  cluster.DropDatabase("check_db");
}

}  // namespace check_test
