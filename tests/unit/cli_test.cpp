// The command line as users and cron see it: run the real binary and check help, exit codes and
// messages (design §2). Needs no server: every case here fails or finishes before connecting.
#include "common/temp_dir.hpp"
#include "support/build_under_test.hpp"
#include "support/process.hpp"
#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>
#include <set>
#include <sstream>
#include <string>

namespace cli_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;

namespace {

// A private temporary directory removed with its contents.
using ScratchDir = dhanbak::TempDir;

using dhanbak::test::ProcessResult;

// Runs the dhanbak binary (no DHANBAK_CONFIG from the environment), capturing its output.
dhanbak::test::ProcessResult Dhanbak(std::vector<std::string> args) {
  args.insert(args.begin(), dhanbak::test::DhanbakBinary());
  dhanbak::test::ProcessOptions options;
  options.unset_env = {"DHANBAK_CONFIG"};
  return dhanbak::test::RunProcess(args, options);
}

// The command names of the "commands:" section of the usage text.
std::set<std::string> ListedCommands(const std::string& usage) {
  std::set<std::string> names;
  std::istringstream in(usage);
  std::string line;
  bool in_commands = false;
  while (std::getline(in, line)) {
    if (line == "commands:") {
      in_commands = true;
      continue;
    }
    if (!in_commands) continue;
    if (line.empty()) break;
    std::istringstream words(line);
    std::string first;
    words >> first;
    names.insert(first);
  }
  return names;
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

// A complete, valid configuration whose repository and catalog live in `dir`.
std::string ValidConfig(const std::string& dir) {
  WriteFile(dir + "/passphrase", "unit test passphrase\n");
  return "[repository]\n"
         "url = \"file://" + dir + "/repo\"\n"
         "passphrase = \"file:" + dir + "/passphrase\"\n"
         "\n"
         "[postgres]\n"
         "conninfo = \"host=127.0.0.1 port=1\"\n"
         "databases = [\"db1\"]\n"
         "\n"
         "[catalog]\n"
         "path = \"" + dir + "/catalog.sqlite\"\n";
}

}  // namespace

// Every command of the design (§2). Commands land one at a time; the rule that holds at every
// step is "listed in --help if and only if it works": no stubs, no hidden commands.
// The design's commands, and `timeline` (issue 10: choosing the second of a point-in-time restore).
const std::set<std::string> kDesignCommands = {"init",   "backup", "list",    "restore", "verify",
                                               "export", "prune",  "check",   "status",  "catalog",
                                               "key",    "base-backup", "wal-push", "wal-fetch", "restore-cluster",
                                               "timeline"};

TEST_CASE("cli: --help lists the implemented commands and only those") {
  ProcessResult r = Dhanbak({"--help"});
  CHECK(r.exit_code == 0);
  const std::set<std::string> listed = ListedCommands(r.out);
  CAPTURE(r.out);
  for (const char* required : {"init", "backup", "list", "restore"}) {
    CAPTURE(required);
    CHECK(listed.count(required) == 1);
  }
  for (const auto& name : listed) {
    CAPTURE(name);
    CHECK(kDesignCommands.count(name) == 1);
    // A listed command exists: its own --help works.
    ProcessResult help = Dhanbak({name, "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.err.find("unknown command") == std::string::npos);
  }
  for (const auto& name : kDesignCommands) {
    if (listed.count(name)) continue;
    CAPTURE(name);
    // Not listed means not there at all.
    ProcessResult missing = Dhanbak({"--allow-root", name});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("unknown command '" + name + "'") != std::string::npos);
  }
  // The global options of the design and the exit codes are documented.
  for (const char* opt : {"-c FILE", "--repo URL", "--json", "--no-progress", "--allow-root"}) {
    CAPTURE(opt);
    CHECK(r.out.find(opt) != std::string::npos);
  }
  CHECK(r.out.find("4 another run holds the lock") != std::string::npos);
}

TEST_CASE("cli: no command is a usage error") {
  ProcessResult r = Dhanbak({});
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("commands:") != std::string::npos);
}

TEST_CASE("cli: an unknown command exits 2 and shows the usage") {
  for (const char* cmd : {"frobnicate", "backups", "Restore"}) {
    CAPTURE(cmd);
    ProcessResult r = Dhanbak({"--allow-root", cmd});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(std::string("unknown command '") + cmd + "'") != std::string::npos);
    CHECK(r.err.find("commands:") != std::string::npos);
  }
}

TEST_CASE("cli: an unknown option exits 2") {
  ScratchDir dir;
  WriteFile(dir.path() + "/dhanbak.toml", ValidConfig(dir.path()));
  ProcessResult r = Dhanbak({"-c", dir.path() + "/dhanbak.toml", "--allow-root", "list", "--no-such-option"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("no-such-option") != std::string::npos);
}

TEST_CASE("cli: running as root without --allow-root is refused with exit 2") {
  if (::geteuid() != 0) {
    MESSAGE("not running as root: the refusal cannot be exercised");
    return;
  }
  ScratchDir dir;
  WriteFile(dir.path() + "/dhanbak.toml", ValidConfig(dir.path()));
  for (const char* cmd : {"init", "backup", "list"}) {
    CAPTURE(cmd);
    ProcessResult r = Dhanbak({"-c", dir.path() + "/dhanbak.toml", "--no-progress", cmd});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("refuses to run as root") != std::string::npos);
    CHECK(r.err.find("--allow-root") != std::string::npos);
  }
  // Nothing was created: the refusal comes before any work.
  CHECK_FALSE(fs::exists(dir.path() + "/repo"));
  CHECK_FALSE(fs::exists(dir.path() + "/catalog.sqlite"));
  // With --allow-root the same command runs (list on an empty catalog succeeds).
  ProcessResult ok = Dhanbak({"-c", dir.path() + "/dhanbak.toml", "--allow-root", "list"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("no backups") != std::string::npos);
}

TEST_CASE("cli: a bad configuration file exits 2 naming file, line and key") {
  ScratchDir dir;
  const std::string path = dir.path() + "/dhanbak.toml";
  WriteFile(path, "[repository]\nurl = \"file:///tmp/x\"\n\n[postgres]\njob = 4\n");
  ProcessResult r = Dhanbak({"-c", path, "--allow-root", "list"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find(path + ":5") != std::string::npos, r.err);
  CHECK(r.err.find("postgres.job") != std::string::npos);

  WriteFile(path, "[repository]\nurl = \"file:///tmp/x\"\nbroken = = toml\n");
  r = Dhanbak({"-c", path, "--allow-root", "list"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find(path + ":3") != std::string::npos, r.err);

  r = Dhanbak({"-c", dir.path() + "/missing.toml", "--allow-root", "list"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("missing.toml") != std::string::npos);
}

TEST_CASE("cli: -c takes its value attached as well (-c/etc/dhanbak.toml), as getopt does") {
  ScratchDir dir;
  const std::string path = dir.path() + "/dhanbak.toml";
  WriteFile(path, ValidConfig(dir.path()));
  ProcessResult attached = Dhanbak({"-c" + path, "--allow-root", "list"});
  INFO(attached.err);
  CHECK(attached.exit_code == 0);
  CHECK(attached.out.find("no backups") != std::string::npos);
  ProcessResult missing = Dhanbak({"-c" + dir.path() + "/missing.toml", "--allow-root", "list"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find(dir.path() + "/missing.toml") != std::string::npos);
}

TEST_CASE("cli: a passphrase file readable by others is refused with exit 2") {
  ScratchDir dir;
  const std::string path = dir.path() + "/dhanbak.toml";
  WriteFile(path, ValidConfig(dir.path()));
  ::chmod((dir.path() + "/passphrase").c_str(), 0644);
  ProcessResult r = Dhanbak({"-c", path, "--allow-root", "--no-progress", "init"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(dir.path() + "/passphrase") != std::string::npos);
  CHECK(r.err.find("unit test passphrase") == std::string::npos);  // never the secret itself
  CHECK_FALSE(fs::exists(dir.path() + "/repo/config"));
}

TEST_CASE("cli: init creates a repository once; a second init exits 2") {
  ScratchDir dir;
  const std::string path = dir.path() + "/dhanbak.toml";
  WriteFile(path, ValidConfig(dir.path()));
  ProcessResult first = Dhanbak({"-c", path, "--allow-root", "--no-progress", "init"});
  CHECK_MESSAGE(first.exit_code == 0, first.err);
  CHECK(fs::exists(dir.path() + "/repo/config"));
  ProcessResult second = Dhanbak({"-c", path, "--allow-root", "--no-progress", "init"});
  CHECK(second.exit_code == 2);
  CHECK(second.err.find("already exists") != std::string::npos);
}

}  // namespace cli_test
