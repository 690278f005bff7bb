// [notify]: a failed backup POSTs Slack-compatible JSON to webhook_url, a good one GETs
// ping_url, and both write the Prometheus metrics file. A local HTTP server records requests.
#include <doctest/doctest.h>
#include <httplib.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace notify_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {

struct Recorder {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<std::string> hook_bodies;
  int pings = 0;

  Recorder() {
    server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      hook_bodies.push_back(req.body);
      res.set_content("ok", "text/plain");
    });
    server.Get("/ping", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      ++pings;
      res.set_content("ok", "text/plain");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Recorder() {
    server.stop();
    thread.join();
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("notify: webhook on failure, ping on success, metrics file after each run") {
  PgCluster& cluster = SharedCluster();
  cluster.DropDatabase("notify_db");
  cluster.CreateDatabase("notify_db");
  cluster.Psql("notify_db", "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100);");
  Recorder recorder;
  DhanbakEnv env({"notify_db"});
  std::string metrics = env.dir() + "/dhanbak.prom";
  {
    std::ofstream cfg(env.config_path(), std::ios::app);
    cfg << "\n[notify]\nwebhook_url = \"http://127.0.0.1:" << recorder.port << "/hook\"\n"
        << "ping_url = \"http://127.0.0.1:" << recorder.port << "/ping\"\n"
        << "metrics_file = \"" << metrics << "\"\n";
  }
  env.InitFast();

  env.RunOk({"backup"});
  {
    std::lock_guard<std::mutex> lock(recorder.mu);
    CHECK(recorder.pings == 1);
    CHECK(recorder.hook_bodies.empty());
  }
  std::string text = ReadFile(metrics);
  CHECK(text.find("dhanbak_backup_last_run_success{database=\"notify_db\"} 1") != std::string::npos);
  CHECK(text.find("dhanbak_backup_rows{database=\"notify_db\"} 100") != std::string::npos);

  auto r = env.Run({"backup", "notify_db", "no_such_database"});
  CHECK(r.exit_code == 1);
  {
    std::lock_guard<std::mutex> lock(recorder.mu);
    CHECK(recorder.pings == 1);  // no ping for a failed run
    REQUIRE(recorder.hook_bodies.size() == 1);
    auto body = nlohmann::json::parse(recorder.hook_bodies[0]);
    std::string message = body.at("text").get<std::string>();
    CHECK(message.find("no_such_database") != std::string::npos);
    CHECK(message.find("notify_db:") == std::string::npos);  // only failed databases are listed
  }
  text = ReadFile(metrics);
  CHECK(text.find("dhanbak_backup_last_run_success{database=\"no_such_database\"} 0") != std::string::npos);
  CHECK(text.find("dhanbak_backup_last_run_success{database=\"notify_db\"} 1") != std::string::npos);
  // The webhook URL may hold a token: it never appears in dhanbak's output.
  CHECK(r.err.find("/hook") == std::string::npos);
  cluster.DropDatabase("notify_db");
}

}  // namespace notify_test
