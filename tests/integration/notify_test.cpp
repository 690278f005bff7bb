// [notify]: a failed backup POSTs Slack-compatible JSON to webhook_url, a good one GETs
// ping_url, and both write the Prometheus metrics file. A local HTTP server records requests.
#include <doctest/doctest.h>
#include <httplib.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/dhanbak_env.hpp"
#include "support/notification_recorder.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace notify_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

namespace {

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
  NotificationRecorder recorder;
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
  CHECK(text.find("dhanbak_last_run_success{command=\"backup\"} 0") != std::string::npos);

  // Every command's last run stays beside the others'; the file is valid Prometheus text.
  env.RunOk({"verify", "notify_db"});
  text = ReadFile(metrics);
  CHECK(text.find("dhanbak_last_run_success{command=\"backup\"} 0") != std::string::npos);
  CHECK(text.find("dhanbak_last_run_success{command=\"verify\"} 1") != std::string::npos);
  CHECK(text.find("dhanbak_verify_last_success{database=\"notify_db\"} 1") != std::string::npos);
  CHECK(text.find("dhanbak_repository_stored_bytes ") != std::string::npos);
  CHECK(text.find("dhanbak_backup_stored_bytes{database=\"notify_db\"} ") != std::string::npos);
  dhanbak::test::ProcessOptions stdin_file;
  stdin_file.stdin_text = text;
  auto lint = dhanbak::test::RunProcess({"promtool", "check", "metrics"}, stdin_file);
  CHECK_MESSAGE(lint.exit_code == 0, lint.out << lint.err << text);
  // The shipped dashboard and alert rules use only metrics dhanbak writes (those of the WAL
  // archive and point-in-time restore tests appear once those exist).
  std::set<std::string> written{"dhanbak_wal_newest_age_seconds", "dhanbak_pitr_verify_last_success",
                                "dhanbak_pitr_verify_last_timestamp_seconds", "dhanbak_restore_test_duration_seconds"};
  for (const std::regex name(R"(\n# TYPE (dhanbak_\w+) gauge)"); const auto& m :
       std::vector(std::sregex_iterator(text.begin(), text.end(), name), std::sregex_iterator())) {
    written.insert(m[1].str());
  }
  for (const char* shipped : {"/docs/monitoring/dhanbak-dashboard.json", "/docs/monitoring/dhanbak-alerts.yml"}) {
    const std::string used = ReadFile(std::string(DHANBAK_SOURCE_DIR) + shipped);
    REQUIRE(!used.empty());
    const std::regex name(R"(dhanbak_[a-z_]+)");
    int count = 0;
    for (auto it = std::sregex_iterator(used.begin(), used.end(), name); it != std::sregex_iterator(); ++it, ++count) {
      CHECK_MESSAGE(written.count(it->str()) == 1, shipped << " uses " << it->str());
    }
    CHECK(count > 5);
  }
  cluster.DropDatabase("notify_db");
}

TEST_CASE("--log-format json: one object per line naming the command, the database and the backup, for Loki") {
  PgCluster& cluster = SharedCluster();
  SmallDatabase(cluster, "logged_db");
  DhanbakEnv env({"logged_db"});
  env.InitFast();
  auto r = env.Run({"--log-format", "json", "-v", "backup"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string backup_id = env.ListJson().at(0).at("backup_id").get<std::string>();
  std::istringstream lines(r.err);
  int count = 0, about_backup = 0;
  for (std::string line; std::getline(lines, line);) {
    CAPTURE(line);
    const auto j = nlohmann::json::parse(line);  // every line is one JSON object
    ++count;
    CHECK(j.at("command") == "backup");
    CHECK(j.at("time").get<std::string>().size() == 24);  // 2026-12-01T20:26:44.123Z
    CHECK(!j.at("host").get<std::string>().empty());
    CHECK(j.at("message").is_string());
    CHECK(j.at("level").is_string());
    if (j.contains("backup_id")) {
      CHECK(j.at("backup_id") == backup_id);
      CHECK(j.at("database") == "logged_db");
      ++about_backup;
    }
  }
  CHECK(count >= 3);
  CHECK(about_backup > 0);

  // A failure is logged as JSON too, and the text format stays the default.
  auto failed = env.Run({"--log-format", "json", "restore", "no_such_db", "--target-db", "x"});
  CHECK(failed.exit_code != 0);
  const auto last = nlohmann::json::parse(failed.err.substr(failed.err.rfind('\n', failed.err.size() - 2) + 1));
  CHECK(last.at("level") == "error");
  CHECK(last.at("database") == "no_such_db");
  CHECK(last.at("command") == "restore");
  auto text = env.Run({"list"});
  CHECK(text.err.find("{\"") == std::string::npos);
  auto bad = env.Run({"--log-format", "xml", "list"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--log-format takes text or json") != std::string::npos);
  cluster.DropDatabase("logged_db");
}

TEST_CASE("notify: every unattended command reports failure (and success) with the next step; pings at start, success and failure") {
  PgCluster& cluster = SharedCluster();
  SmallDatabase(cluster, "notify_all");
  auto recorder = std::make_unique<NotificationRecorder>();
  DhanbakEnv env({"notify_all"});
  const std::string base = "http://127.0.0.1:" + std::to_string(recorder->port);
  std::ofstream(env.config_path(), std::ios::app)
      << "\n[notify]\nwebhook_url = \"" << base << "/hook\"\nnotify_success = true\n"
      << "ping_start_url = \"" << base << "/start\"\nping_url = \"" << base << "/ping?status=up&msg={msg}\"\n"
      << "ping_failure_url = \"" << base << "/fail?status=down&msg={msg}\"\nping_commands = [\"backup\", \"prune\"]\n";
  env.InitFast();
  auto take = [&](std::vector<std::string>& what) {
    std::lock_guard<std::mutex> lock(recorder->mu);
    auto out = std::move(what);
    what.clear();
    return out;
  };
  auto hook_text = [&] {
    auto bodies = take(recorder->hook_bodies);
    REQUIRE(bodies.size() == 1);
    return nlohmann::json::parse(bodies[0]).at("text").get<std::string>();
  };

  // Success, with notify_success: the webhook hears it; a ping command pings start and success.
  env.RunOk({"backup"});
  std::string text = hook_text();
  CHECK(text.find("dhanbak backup succeeded on ") != std::string::npos);
  CHECK(text.find("databases: notify_all") != std::string::npos);
  auto events = take(recorder->events);
  REQUIRE(events.size() == 2);
  CHECK(events[0] == "start ");  // its URL has no {msg}
  CHECK(events[1].starts_with("ping dhanbak backup succeeded on "));

  // prune while another run holds the repository: exit 4, the next step says what it means.
  const std::string lock = HoldRunningBackupLock(env);
  auto locked = env.Run({"prune"});
  CHECK(locked.exit_code == 4);
  text = hook_text();
  CHECK(text.find("dhanbak prune FAILED on ") != std::string::npos);
  CHECK(text.find("(exit 4, took ") != std::string::npos);
  CHECK(text.find("error: ") != std::string::npos);
  CHECK(text.find("next step: another dhanbak run holds the lock") != std::string::npos);
  events = take(recorder->events);
  REQUIRE(events.size() == 2);
  CHECK(events[0] == "start ");
  CHECK(events[1].starts_with("fail dhanbak prune FAILED on "));
  CHECK(events[1].find("(exit 4") != std::string::npos);

  // status alerting (exit 5) is a failure too; it is not a ping command, so no ping.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(env.Run({"status", "--max-age", "1s"}).exit_code == 5);
  text = hook_text();
  CHECK(text.find("dhanbak status FAILED") != std::string::npos);
  CHECK(text.find("next step: run 'dhanbak status' on the host") != std::string::npos);
  CHECK(take(recorder->events).empty());
  // check and verify report success; a bad command line never notifies (it is not a run).
  std::filesystem::remove(lock);
  env.RunOk({"check"});
  CHECK(hook_text().find("dhanbak check succeeded") != std::string::npos);
  CHECK(env.Run({"verify", "--no-such-flag"}).exit_code == 2);
  CHECK(take(recorder->hook_bodies).empty());

  // The receiver gone: the command's own exit code stands, the failed notification is logged.
  recorder.reset();
  auto unheard = env.Run({"backup", "no_such_database"});
  CHECK(unheard.exit_code == 1);
  CHECK(unheard.err.find("notification to [notify] webhook_url failed") != std::string::npos);
  CHECK(unheard.err.find("start ping to [notify] ping_start_url failed") != std::string::npos);
  CHECK(unheard.err.find("/hook") == std::string::npos);  // URLs may hold tokens: never logged
  cluster.DropDatabase("notify_all");
}

}  // namespace notify_test
