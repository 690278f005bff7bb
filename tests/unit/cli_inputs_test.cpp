// Issue 7 on the real command line (no server needed: every case fails or finishes before
// connecting): numeric options, config paths, secret typos, weak passphrases, init on a
// non-empty directory, repository URLs, --version and private catalog files under umask 022.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "support/build_under_test.hpp"
#include "common/temp_dir.hpp"
#include "support/process.hpp"

namespace cli_inputs_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;

namespace {

using Result = dhanbak::test::ProcessResult;

// Runs the binary with the given umask, capturing its output.
dhanbak::test::ProcessResult Run(std::vector<std::string> args, mode_t mask = 022) {
  args.insert(args.begin(), dhanbak::test::DhanbakBinary());
  dhanbak::test::ProcessOptions options;
  options.unset_env = {"DHANBAK_CONFIG"};
  options.umask = mask;
  return dhanbak::test::RunProcess(args, options);
}

void Write(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
  return st.st_mode & 07777;
}

// A scratch directory with a config whose repository and catalog live inside it.
struct Setup {
  dhanbak::TempDir dir;
  std::string config = dir.path() + "/dhanbak.toml";
  std::string repo = dir.path() + "/repo";
  std::string catalog = dir.path() + "/catalog.sqlite";
  Setup(const std::string& passphrase_line = "", const std::string& passphrase = "a long enough test passphrase") {
    Write(dir.path() + "/passphrase", passphrase + "\n");
    WriteConfig(passphrase_line.empty() ? "passphrase = \"file:" + dir.path() + "/passphrase\"" : passphrase_line);
  }
  void WriteConfig(const std::string& passphrase_line, const std::string& url = "") {
    Write(config, "[repository]\nurl = \"" + (url.empty() ? "file://" + repo : url) + "\"\n" + passphrase_line +
                      "\n\n[postgres]\nconninfo = \"host=127.0.0.1 port=1 connect_timeout=2\"\ndatabases = [\"db1\"]\n\n"
                      "[catalog]\npath = \"" + catalog + "\"\n");
  }
  Result Dhanbak(std::vector<std::string> args, mode_t mask = 022) const {
    args.insert(args.begin(), {"-c", config, "--allow-root", "--no-progress"});
    return Run(args, mask);
  }
};

}  // namespace

TEST_CASE("cli inputs: --version prints the project version and exits 0") {
  Result r = Run({"--version"});
  CHECK(r.exit_code == 0);
  CHECK_MESSAGE(std::regex_match(r.out, std::regex("dhanbak [0-9]+\\.[0-9]+\\.[0-9]+\n")), r.out);
  CHECK(r.err.empty());
  Result after_command = Run({"list", "--version"});
  CHECK(after_command.exit_code == 0);
  CHECK(after_command.out == r.out);
  CHECK(Run({"--help"}).out.find("--version") != std::string::npos);
}

TEST_CASE("cli inputs: --jobs outside the configuration's limits exits 2 with a message") {
  Setup s;
  for (const char* cmd : {"backup", "restore", "verify"}) {
    for (const char* jobs : {"100000", "65", "0", "-1"}) {
      CAPTURE(cmd);
      CAPTURE(jobs);
      std::vector<std::string> args = {cmd};
      if (std::string(cmd) == "restore") args.push_back("db1");
      args.insert(args.end(), {"--jobs", jobs});
      Result r = s.Dhanbak(args);
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(r.err.find("--jobs must be between 1 and 64") != std::string::npos, r.err);
      CHECK(r.err.find("terminate") == std::string::npos);
    }
  }
  // Not a number, or too large for any integer: still a usage error, never an abort.
  for (const char* jobs : {"many", "99999999999999999999"}) {
    Result r = s.Dhanbak({"backup", "--jobs", jobs});
    CHECK(r.exit_code == 2);
  }
  Result r = s.Dhanbak({"status", "--max-age", "soon"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--max-age 'soon': invalid duration") != std::string::npos);
}

TEST_CASE("cli inputs: -c DIRECTORY, -c /dev/null and a config without repository.url exit 2") {
  Setup s;
  Result dir = Run({"-c", s.dir.path(), "--allow-root", "list"});
  CHECK(dir.exit_code == 2);
  CHECK(dir.err.find("config file " + s.dir.path() + " is a directory") != std::string::npos);
  Result null = Run({"-c", "/dev/null", "--allow-root", "backup"});
  CHECK(null.exit_code == 2);
  CHECK(null.err.find("config file /dev/null is not a regular file") != std::string::npos);
  Write(s.config, "[postgres]\ndatabases = [\"db1\"]\n");
  for (const char* cmd : {"list", "backup", "status", "init"}) {
    CAPTURE(cmd);
    Result r = s.Dhanbak({cmd});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(s.config + ": key 'repository.url' is required") != std::string::npos);
    CHECK(r.err.find("internal error") == std::string::npos);
  }
}

TEST_CASE("cli inputs: a misspelt secret reference is exit 2 naming file, line and key; nothing is written") {
  for (const std::string value : {"flie:/etc/dhanbak/passphrase", "File:/etc/dhanbak/passphrase", "ENV:X",
                                  " file:/etc/dhanbak/passphrase", "my passphrase written inline"}) {
    CAPTURE(value);
    Setup s("passphrase = \"" + value + "\"");
    Result r = s.Dhanbak({"init"});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find(s.config + ":3: key 'repository.passphrase'") != std::string::npos, r.err);
    CHECK(r.err.find(value) == std::string::npos);
    CHECK_FALSE(fs::exists(s.repo));
  }
}

TEST_CASE("cli inputs: init refuses a weak passphrase unless --allow-weak-passphrase") {
  Setup s("", "hunter2");
  Result r = s.Dhanbak({"init"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("shorter than 12 characters") != std::string::npos);
  CHECK(r.err.find("--allow-weak-passphrase") != std::string::npos);
  CHECK(r.err.find("hunter2") == std::string::npos);
  CHECK_FALSE(fs::exists(s.repo + "/config"));

  Result ok = s.Dhanbak({"init", "--allow-weak-passphrase"});
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.err.find("warning") != std::string::npos);
  CHECK(ok.err.find("shorter than 12 characters") != std::string::npos);
  CHECK(fs::exists(s.repo + "/config"));
}

TEST_CASE("cli inputs: init on a non-empty directory that is not a repository writes nothing") {
  Setup s;
  fs::create_directories(s.repo + "/photos");
  Write(s.repo + "/notes.txt", "mine\n", 0644);
  Result r = s.Dhanbak({"init"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("is not empty and is not a dhanbak repository") != std::string::npos);
  std::vector<std::string> entries;
  for (const auto& e : fs::recursive_directory_iterator(s.repo)) entries.push_back(e.path().filename().string());
  std::sort(entries.begin(), entries.end());
  CHECK(entries == std::vector<std::string>{"notes.txt", "photos"});

  // A hidden file alone also counts.
  Setup hidden;
  fs::create_directories(hidden.repo);
  Write(hidden.repo + "/.keep", "");
  CHECK(hidden.Dhanbak({"init"}).exit_code == 2);
  CHECK_FALSE(fs::exists(hidden.repo + "/config"));
}

TEST_CASE("cli inputs: a b2 url with '..' is refused before anything is written or contacted") {
  Setup s;
  s.WriteConfig("passphrase = \"file:" + s.dir.path() + "/passphrase\"", "b2://dhanman-backups/a/../b");
  Result r = s.Dhanbak({"init"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(s.config + ":2: key 'repository.url'") != std::string::npos);
  CHECK(r.err.find("a/../b") == std::string::npos);
  Setup t;
  Result flag = t.Dhanbak({"--repo", "b2://dhanman-backups/a/../b", "init"});
  CHECK(flag.exit_code == 2);
  CHECK(flag.err.find("--repo: the prefix must not contain") != std::string::npos);
}

TEST_CASE("cli inputs: with umask 022 a first backup creates the catalog 0600 in 0700 directories") {
  Setup s;
  const std::string nested = s.dir.path() + "/state/dhanbak";
  s.catalog = nested + "/catalog.sqlite";
  s.WriteConfig("passphrase = \"file:" + s.dir.path() + "/passphrase\"");
  // No repository yet: backup takes its locks, records the failed night in the catalog, fails.
  Result r = s.Dhanbak({"backup"}, 022);
  CHECK(r.exit_code != 0);
  CHECK(ModeOf(s.dir.path() + "/state") == 0700);
  CHECK(ModeOf(nested) == 0700);
  CHECK(ModeOf(s.catalog) == 0600);
  for (const char* suffix : {"-wal", "-shm", ".backup.lock", ".repo.lock"}) {
    if (fs::exists(s.catalog + suffix)) CHECK(ModeOf(s.catalog + suffix) == 0600);
  }
  // list on a fresh path: the same.
  Setup l;
  l.catalog = l.dir.path() + "/other/catalog.sqlite";
  l.WriteConfig("passphrase = \"file:" + l.dir.path() + "/passphrase\"");
  CHECK(l.Dhanbak({"list"}, 022).exit_code == 0);
  CHECK(ModeOf(l.dir.path() + "/other") == 0700);
  CHECK(ModeOf(l.catalog) == 0600);
}

TEST_CASE("cli inputs: key add applies the same passphrase rules as init") {
  Setup s;
  REQUIRE(s.Dhanbak({"init"}).exit_code == 0);
  const std::string weak = s.dir.path() + "/weak";
  Write(weak, "short1\n");
  Result r = s.Dhanbak({"key", "add", "--new-passphrase", "file:" + weak});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("the new passphrase is shorter than 12 characters") != std::string::npos);
  CHECK(r.err.find("short1") == std::string::npos);
  Result typo = s.Dhanbak({"key", "add", "--new-passphrase", "flie:" + weak});
  CHECK(typo.exit_code == 2);
  Result ok = s.Dhanbak({"key", "add", "--new-passphrase", "file:" + weak, "--allow-weak-passphrase"});
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  CHECK(ok.out.find("added key") != std::string::npos);
}

}  // namespace cli_inputs_test
