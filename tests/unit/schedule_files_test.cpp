// The schedules dhanbak ships (cron/dhanbak, systemd/*): every command in them is one the binary
// accepts, every unit passes `systemd-analyze verify` without a warning, and every service runs
// hardened as the dhanbak user.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/build_under_test.hpp"
#include "common/temp_dir.hpp"
#include "support/process.hpp"

#include <nlohmann/json.hpp>

namespace schedule_files_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;

namespace {

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  return {std::istream_iterator<std::string>(in), {}};
}

// `dhanbak ARGS` as a schedule runs it: the command exists and takes every option given.
void CheckAccepted(const std::vector<std::string>& args) {
  CAPTURE(args);
  std::vector<std::string> help{dhanbak::test::DhanbakBinary()};
  std::string command;
  for (const auto& a : args) {
    if (!a.starts_with("-") && command.empty()) command = a;
  }
  REQUIRE_FALSE(command.empty());
  help.insert(help.end(), {command, "--help"});
  auto r = dhanbak::test::RunProcess(help, {});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("dhanbak " + command + " [OPTION...]") != std::string::npos);
  for (const auto& a : args) {
    if (a.starts_with("--")) CHECK(r.out.find("  " + a.substr(0, a.find('=')) + " ") != std::string::npos);
    if (a.size() == 2 && a[0] == '-') CHECK(r.out.find(a + ", --") != std::string::npos);
  }
}

// The dhanbak invocations of a shell command line ("dhanbak ARGS >> LOG 2>&1; dhanbak ...").
std::vector<std::vector<std::string>> Invocations(const std::string& line) {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string>* current = nullptr;
  for (std::string w : Words(line)) {
    if (w.ends_with(";")) w.pop_back();
    if (w == "dhanbak" || w == "/usr/bin/dhanbak") {
      out.emplace_back();
      current = &out.back();
    } else if (w == ">>" || w == ">" || w == "2>&1" || w == "||" || w == "&&") {
      current = nullptr;
    } else if (current != nullptr) {
      current->push_back(w);
    }
  }
  return out;
}

std::vector<fs::path> UnitFiles() {
  std::vector<fs::path> units;
  for (const auto& e : fs::directory_iterator(std::string(DHANBAK_SOURCE_DIR) + "/systemd")) units.push_back(e.path());
  std::sort(units.begin(), units.end());
  return units;
}

}  // namespace

TEST_CASE("cron/dhanbak: each line runs as dhanbak with commands the binary accepts; every job is scheduled") {
  const std::string cron = ReadText(std::string(DHANBAK_SOURCE_DIR) + "/cron/dhanbak");
  std::set<std::string> jobs;
  int lines = 0;
  std::istringstream in(cron);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || std::regex_match(line, std::regex(R"([A-Z_]+=.*)"))) continue;
    CAPTURE(line);
    ++lines;
    auto w = Words(line);
    REQUIRE(w.size() > 7);
    for (int i = 0; i < 5; ++i) CHECK(std::regex_match(w[i], std::regex(R"([0-9*/,-]+)")));
    CHECK(w[5] == "dhanbak");  // the service user, never root
    auto calls = Invocations(line.substr(line.find(w[6], line.find(w[5]) + w[5].size())));
    REQUIRE_FALSE(calls.empty());
    for (const auto& args : calls) {
      CheckAccepted(args);
      std::string job;
      for (const auto& a : args) {
        if (a != "--no-progress" && a != "-q") job += (job.empty() ? "" : " ") + a;
      }
      jobs.insert(job);
    }
  }
  CHECK(lines == 6);
  CHECK(cron.find("DHANBAK_CONFIG=/etc/dhanbak/dhanbak.toml") != std::string::npos);
  for (const char* job : {"backup", "prune", "base-backup", "verify --all", "verify --pitr", "check --read-data",
                          "status --max-age 26h"}) {
    CHECK_MESSAGE(jobs.count(job) == 1, job);
  }
}

TEST_CASE("systemd units: systemd-analyze verify passes without a warning; services hardened; timers persistent") {
  const auto units = UnitFiles();
  REQUIRE(units.size() == 14);
  dhanbak::TempDir dir;
  std::vector<std::string> verify{"systemd-analyze", "verify"};
  std::set<std::string> services, timers;
  for (const auto& unit : units) {
    CAPTURE(unit.string());
    std::string text = ReadText(unit);
    const std::string name = unit.filename().string();
    if (unit.extension() == ".service") {
      services.insert(unit.stem().string());
      for (const char* line : {"User=dhanbak\n", "Type=oneshot\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n",
                               "ReadWritePaths=/var/lib/dhanbak /var/log/dhanbak\n", "PrivateTmp=yes\n",
                               "ProtectHome=yes\n", "CapabilityBoundingSet=\n",
                               "Environment=DHANBAK_CONFIG=/etc/dhanbak/dhanbak.toml\n"}) {
        CHECK_MESSAGE(text.find(line) != std::string::npos, line);
      }
      std::smatch m;
      REQUIRE(std::regex_search(text, m, std::regex(R"(\nExecStart=(.*)\n)")));
      auto calls = Invocations(m[1].str());
      REQUIRE(calls.size() == 1);
      CheckAccepted(calls[0]);
    } else {
      REQUIRE(unit.extension() == ".timer");
      timers.insert(unit.stem().string());
      CHECK(text.find("Persistent=true\n") != std::string::npos);
      CHECK(text.find("WantedBy=timers.target\n") != std::string::npos);
    }
    // The binary is not installed where the units expect it: point them at the one built.
    for (size_t at; (at = text.find("/usr/bin/dhanbak")) != std::string::npos;) {
      text.replace(at, std::string("/usr/bin/dhanbak").size(), dhanbak::test::DhanbakBinary());
    }
    std::ofstream(dir.path() + "/" + name) << text;
    verify.push_back(dir.path() + "/" + name);
  }
  CHECK(services == timers);
  CHECK(ReadText(std::string(DHANBAK_SOURCE_DIR) + "/systemd/dhanbak-backup.timer").find("OnCalendar=*-*-* 02:00:00\n") !=
        std::string::npos);
  auto r = dhanbak::test::RunProcess(verify, {});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());  // an unknown key or a bad value is only a warning: none is allowed

  // The check can fail: a misspelt key is reported.
  std::ofstream(dir.path() + "/dhanbak-backup.service", std::ios::app) << "ProtectSytem=strict\n";
  auto bad = dhanbak::test::RunProcess({"systemd-analyze", "verify", dir.path() + "/dhanbak-backup.service"}, {});
  CHECK(bad.err.find("ProtectSytem") != std::string::npos);
}

TEST_CASE("docs/monitoring: the alert rules pass promtool check rules; the Grafana dashboard is valid JSON") {
  const std::string dir = std::string(DHANBAK_SOURCE_DIR) + "/docs/monitoring";
  auto rules = dhanbak::test::RunProcess({"promtool", "check", "rules", dir + "/dhanbak-alerts.yml"}, {});
  INFO(rules.out << rules.err);
  CHECK(rules.exit_code == 0);
  CHECK(rules.out.find("SUCCESS: 7 rules found") != std::string::npos);
  for (const char* alert : {"DhanbakBackupTooOld", "DhanbakVerificationFailed", "DhanbakWalArchiveStale",
                            "DhanbakRepositoryShrinking"}) {
    CHECK_MESSAGE(ReadText(dir + "/dhanbak-alerts.yml").find("alert: " + std::string(alert) + "\n") != std::string::npos,
                  alert);
  }
  // The check can fail: a broken expression is refused.
  dhanbak::TempDir tmp;
  std::ofstream(tmp.path() + "/bad.yml") << "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(\n";
  CHECK(dhanbak::test::RunProcess({"promtool", "check", "rules", tmp.path() + "/bad.yml"}, {}).exit_code != 0);

  const auto dashboard = nlohmann::json::parse(ReadText(dir + "/dhanbak-dashboard.json"));
  CHECK(dashboard.at("uid") == "dhanbak-backups");
  CHECK(dashboard.at("panels").size() >= 8);
  for (const auto& panel : dashboard.at("panels")) {
    CHECK(panel.at("targets").at(0).at("expr").get<std::string>().find("dhanbak_") != std::string::npos);
  }
}

}  // namespace schedule_files_test
