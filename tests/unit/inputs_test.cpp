// Inputs that cannot mislead (issue 7): secret references that are almost right, repository
// URLs spelled differently, configuration paths that are not files, and messages that never
// repeat a configuration value.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/private_fs.hpp"
#include "dhanbak/catalog/catalog.hpp"
#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"
#include "unit/config_errors.hpp"

namespace dhanbak::inputs_test {  // this file's names, apart from its unity batch's
namespace {

namespace fs = std::filesystem;

using test::ErrorOf;
using test::ParseError;

std::string TomlQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

struct Scratch {
  std::string path;
  Scratch() {
    std::string tmpl = (fs::temp_directory_path() / "dhanbak-inputs-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~Scratch() { fs::remove_all(path); }
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("inputs: a secret that looks like a reference but is not env: or file: is a configuration error") {
  for (const char* key : {"repository.passphrase", "b2.key_id", "b2.application_key"}) {
    std::string section = std::string(key).substr(0, std::string(key).find('.'));
    std::string name = std::string(key).substr(section.size() + 1);
    for (const std::string value : {"flie:/etc/dhanbak/passphrase", "File:/etc/dhanbak/passphrase", "ENV:SECRET_X",
                                    " file:/etc/dhanbak/passphrase", "\tenv:X", "vault:secret/x", "Env:X",
                                    "literally:x", "files:/x", "pass:word"}) {
      CAPTURE(key);
      CAPTURE(value);
      std::string message =
          ParseError("[" + section + "]\n# line 2\n" + name + " = " + TomlQuote(value) + "\n");
      CHECK(message.rfind("/etc/dhanbak/dhanbak.toml:3: key '" + std::string(key) + "' looks like a secret reference", 0) == 0);
      // Never the value, not even its misspelt scheme.
      std::string trimmed = value.substr(value.find_first_not_of(" \t"));
      CHECK(message.find(trimmed) == std::string::npos);
      for (const char* part : {"flie", "File:", "ENV:", "Env:", "vault", "literally", "files:", "/etc/dhanbak/passphrase"}) {
        CHECK(message.find(part) == std::string::npos);
      }
    }
  }
}

TEST_CASE("inputs: a bare literal secret is refused; literal: is the explicit form") {
  std::string message = ParseError("[repository]\npassphrase = \"correct horse battery staple\"\n");
  CHECK(message == "/etc/dhanbak/dhanbak.toml:2: key 'repository.passphrase' is neither a reference (env:NAME, "
                   "file:PATH) nor an explicit literal (literal:VALUE)");
  CHECK(message.find("horse") == std::string::npos);
  CHECK(ParseError("[repository]\npassphrase = \"\"\n").find("key 'repository.passphrase' must not be empty") !=
        std::string::npos);
  CHECK(ParseError("[repository]\npassphrase = \"literal:\"\n").find("has an empty literal value") != std::string::npos);
  CHECK(ParseError("[repository]\npassphrase = \"file:etc/passphrase\"\n").find("has a relative file path") !=
        std::string::npos);

  Config c = ParseConfig("[repository]\npassphrase = \"literal:correct horse battery staple\"\n", "f.toml");
  CHECK(c.passphrase.Resolve() == "correct horse battery staple");
  // The exact schemes still work.
  Config refs = ParseConfig("[b2]\nkey_id = \"env:B2_ID\"\napplication_key = \"file:/etc/dhanbak/b2key\"\n", "f.toml");
  CHECK(refs.b2.key_id.spec == "env:B2_ID");
  CHECK(refs.b2.application_key.spec == "file:/etc/dhanbak/b2key");
}

TEST_CASE("inputs: SecretSpecProblem and PassphraseLength") {
  CHECK(SecretSpecProblem("env:X").empty());
  CHECK(SecretSpecProblem("file:/x").empty());
  CHECK(SecretSpecProblem("literal:x").empty());
  CHECK_FALSE(SecretSpecProblem("env:1X").empty());
  CHECK_FALSE(SecretSpecProblem("flie:/x").empty());
  CHECK_FALSE(SecretSpecProblem("hunter2").empty());
  CHECK(PassphraseLength("abcdefghijk") == 11);
  CHECK(PassphraseLength("\xc3\xa9\xc3\xa9\xc3\xa9") == 3);  // three é: characters, not bytes
}

TEST_CASE("inputs: repository URLs are validated and normalised") {
  CHECK(NormalizeRepositoryUrl("file:///var/backups/dhanbak", "u") == "file:///var/backups/dhanbak");
  CHECK(NormalizeRepositoryUrl("file:///var/backups/dhanbak/", "u") == "file:///var/backups/dhanbak");
  CHECK(NormalizeRepositoryUrl("file:///var//backups/./dhanbak", "u") == "file:///var/backups/dhanbak");
  CHECK(NormalizeRepositoryUrl("file:///var/backups/x/../dhanbak/.", "u") == "file:///var/backups/dhanbak");
  CHECK(NormalizeRepositoryUrl("file:////var/backups/dhanbak//", "u") == "file:///var/backups/dhanbak");
  CHECK(NormalizeRepositoryUrl("b2://dhanman-backups/postgresql/", "u") == "b2://dhanman-backups/postgresql");
  CHECK(NormalizeRepositoryUrl("b2://dhanman-backups", "u") == "b2://dhanman-backups");

  for (const std::string bad : {"b2://bucket1/a/../b", "b2://bucket1/a/./b", "b2://bucket1//a", "b2://bucket1/a//b",
                                "b2://bkt/a", "b2://bucket_1/a", "file://relative/path", "file:///", "file:///..",
                                "s3://bucket/x", "/var/backups"}) {
    CAPTURE(bad);
    std::string message = ErrorOf([&] { NormalizeRepositoryUrl(bad, "--repo"); });
    CHECK(message.rfind("--repo", 0) == 0);
    CHECK(message.find(bad) == std::string::npos);
  }
  // In the configuration: normalised once where it enters, errors name file, line and key.
  Config c = ParseConfig("[repository]\nurl = \"file:///srv//repo/./\"\n", "f.toml");
  CHECK(c.repository_url == "file:///srv/repo");
  CHECK(ParseError("[repository]\nurl = \"b2://dhanman-backups/a/../b\"\n")
            .rfind("/etc/dhanbak/dhanbak.toml:2: key 'repository.url': the url: the prefix must not contain", 0) == 0);
}

TEST_CASE("inputs: durations, rates and repeated names are never echoed") {
  for (const std::string text : {"[b2]\nstall_timeout = \"sekrit-ish\"\n", "[retention]\nkeep_within = \"30 days\"\n",
                                 "[b2]\nmax_upload_rate = \"sekrit-ish\"\n", "[b2]\nmax_download_rate = \"20Mb/s\"\n",
                                 "[postgres]\ndatabases = [\"prod-dhanman-x\", \"prod-dhanman-x\"]\n"}) {
    CAPTURE(text);
    std::string message = ParseError(text);
    CHECK(message.rfind("/etc/dhanbak/dhanbak.toml:2: key '", 0) == 0);
    for (const char* value : {"sekrit", "30 days", "20Mb", "prod-dhanman-x"}) CHECK(message.find(value) == std::string::npos);
  }
}

TEST_CASE("inputs: TOML syntax errors point at line and column without quoting the value") {
  std::string escape = ParseError("[repository]\npassphrase = \"liter\\qsecret\"\n");
  CHECK(escape == "/etc/dhanbak/dhanbak.toml:2:21: error while parsing string: unknown escape sequence");
  std::string digit = ParseError("[postgres]\njobs = 12x\n");
  CHECK(digit.rfind("/etc/dhanbak/dhanbak.toml:2:", 0) == 0);
  CHECK(digit.find("'x'") == std::string::npos);
}

TEST_CASE("inputs: a config path that is a directory or a device is a configuration error") {
  Scratch dir;
  CHECK(ErrorOf([&] { LoadConfig(dir.path); }) ==
        "config file " + dir.path + " is a directory; give the path of a dhanbak.toml file");
  CHECK(ErrorOf([&] { LoadConfig("/dev/null"); }) == "config file /dev/null is not a regular file");
}

TEST_CASE("inputs: catalog files are 0600 and their new directories 0700 whatever the umask") {
  Scratch dir;
  mode_t old = ::umask(022);
  std::string path = dir.path + "/a/b/catalog.sqlite";
  {
    auto catalog = catalog::Catalog::Open(path);
    catalog::BackupRecord rec;
    rec.backup_id = "20240101T000000Z-00000000";
    rec.repository = "file:///x";
    rec.database = "d";
    rec.started_at = 1;
    catalog->BeginBackup(rec);  // a write: -wal and -shm exist while the catalog is open
    CHECK(ModeOf(path) == 0600);
    CHECK(ModeOf(path + "-wal") == 0600);
    CHECK(ModeOf(path + "-shm") == 0600);
  }
  CHECK(ModeOf(dir.path + "/a") == 0700);
  CHECK(ModeOf(dir.path + "/a/b") == 0700);
  // A catalog left 0644 by an older version is tightened when opened.
  ::chmod(path.c_str(), 0644);
  catalog::Catalog::Open(path);
  CHECK(ModeOf(path) == 0600);
  ::umask(old);
}

}  // namespace dhanbak::inputs_test
