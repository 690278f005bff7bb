// Configuration loader: every error kind names file, line and key, and never a secret.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"
#include "unit/config_errors.hpp"

namespace dhanbak::config_test {  // this file's names, apart from its unity batch's
namespace {

namespace fs = std::filesystem;

using test::ErrorOf;
using test::ParseError;

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dhanbak-config-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) const {
    fs::path file = path / name;
    std::ofstream(file) << text;
    ::chmod(file.c_str(), mode);
    return file.string();
  }
};

// Sets an environment variable for the lifetime of the object, restoring the old value.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) ::setenv(name.c_str(), value, 1);
    else ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

const char* kFullConfig = R"([repository]
url = "b2://dhanman-backups/postgresql"
passphrase = "file:/etc/dhanbak/passphrase"

[b2]
key_id = "env:B2_APPLICATION_KEY_ID"
application_key = "env:B2_APPLICATION_KEY"
api_url = "http://127.0.0.1:8123"
connections = 8
max_upload_rate = "20MiB/s"
max_download_rate = 1000000
object_lock_days = 14
retry_max_time = "15m"
stall_timeout = "90s"

[postgres]
conninfo = "host=/var/run/postgresql user=dhanman_user"
databases = ["prod-dhanman-common", "prod-dhanman-sales"]
jobs = 4

[retention]
keep_within = "2w"
keep_last = 5
keep_daily = 7
keep_weekly = 4
keep_monthly = 12

[catalog]
path = "/srv/dhanbak/catalog.sqlite"

[limits]
run_timeout = "6h"
stall_timeout = "30m"

[notify]
webhook_url = "https://hooks.example.com/x"
ping_url = "https://ping.example.com/y"
ping_start_url = "https://hc-ping.com/uuid/start"
ping_failure_url = "https://ping.example.com/y?status=down&msg={msg}"
notify_success = true
ping_commands = ["backup", "verify"]
metrics_file = "/var/lib/node_exporter/dhanbak.prom"

[verify]
conninfo = "host=verify-db"

[pitr]
spool_dir = "/srv/dhanbak/spool"
scratch_dir = "/srv/dhanbak/scratch"
pg_bin_dir = "/usr/lib/postgresql/15/bin"
archive_async = false
push_timeout = "2m"
wal_wait_timeout = "90s"
fetch_ahead = 16
)";

}  // namespace

TEST_CASE("config: a full file is parsed into every field") {
  Config c = ParseConfig(kFullConfig, "/etc/dhanbak/dhanbak.toml");
  CHECK(c.source == "/etc/dhanbak/dhanbak.toml");
  CHECK(c.repository_url == "b2://dhanman-backups/postgresql");
  CHECK(c.passphrase.spec == "file:/etc/dhanbak/passphrase");
  CHECK(c.passphrase.origin == "/etc/dhanbak/dhanbak.toml:3: key 'repository.passphrase'");
  CHECK(c.b2.key_id.spec == "env:B2_APPLICATION_KEY_ID");
  CHECK(c.b2.application_key.spec == "env:B2_APPLICATION_KEY");
  CHECK(c.b2.api_url == "http://127.0.0.1:8123");
  CHECK(c.b2.connections == 8);
  CHECK(c.b2.max_upload_rate == 20ull * 1024 * 1024);
  CHECK(c.b2.max_download_rate == 1000000);
  CHECK(c.b2.object_lock_days == 14);
  CHECK(c.b2.retry_max_time == std::chrono::minutes(15));
  CHECK(c.b2.stall_timeout == std::chrono::seconds(90));
  CHECK(c.postgres.conninfo == "host=/var/run/postgresql user=dhanman_user");
  CHECK(c.postgres.databases == std::vector<std::string>{"prod-dhanman-common", "prod-dhanman-sales"});
  CHECK(c.postgres.jobs == 4);
  CHECK(c.retention.keep_within == std::chrono::hours(24 * 14));
  CHECK(c.retention.keep_last == 5);
  CHECK(c.retention.keep_daily == 7);
  CHECK(c.notify.notify_success);
  CHECK(c.notify.ping_start_url == "https://hc-ping.com/uuid/start");
  CHECK(c.notify.ping_failure_url == "https://ping.example.com/y?status=down&msg={msg}");
  CHECK(c.notify.ping_commands == std::vector<std::string>{"backup", "verify"});
  CHECK(c.retention.keep_weekly == 4);
  CHECK(c.retention.keep_monthly == 12);
  CHECK(c.catalog_path == "/srv/dhanbak/catalog.sqlite");
  CHECK(c.limits.run_timeout == std::chrono::hours(6));
  CHECK(c.limits.stall_timeout == std::chrono::minutes(30));
  CHECK(c.notify.webhook_url == "https://hooks.example.com/x");
  CHECK(c.notify.ping_url == "https://ping.example.com/y");
  CHECK(c.notify.metrics_file == "/var/lib/node_exporter/dhanbak.prom");
  CHECK(c.verify.conninfo == "host=verify-db");
  CHECK(c.pitr.spool_dir == "/srv/dhanbak/spool");
  CHECK(c.pitr.scratch_dir == "/srv/dhanbak/scratch");
  CHECK(c.pitr.pg_bin_dir == "/usr/lib/postgresql/15/bin");
  CHECK_FALSE(c.pitr.archive_async);
  CHECK(c.pitr.push_timeout == std::chrono::minutes(2));
  CHECK(c.pitr.wal_wait_timeout == std::chrono::seconds(90));
  CHECK(c.pitr.fetch_ahead == 16);
}

TEST_CASE("config: [pitr] values are checked") {
  CHECK(ParseError("[pitr]\nspool_dir = \"var/spool\"\n") == "/etc/dhanbak/dhanbak.toml:2: key 'pitr.spool_dir' must be an absolute path");
  CHECK(ParseError("[pitr]\narchive_async = \"yes\"\n") == "/etc/dhanbak/dhanbak.toml:2: key 'pitr.archive_async' must be true or false");
  CHECK(ParseError("[pitr]\nfetch_ahead = 65\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'pitr.fetch_ahead' must be an integer from 0 (off) to 64");
  CHECK(ParseError("[pitr]\npush_timout = \"1m\"\n") == "/etc/dhanbak/dhanbak.toml:2: unknown key 'pitr.push_timout'");
  CHECK(ParseError("[limits]\nrun_timeout = \"soon\"\n").find("key 'limits.run_timeout'") != std::string::npos);
  CHECK(ParseError("[limits]\nstall_timout = \"1m\"\n") == "/etc/dhanbak/dhanbak.toml:2: unknown key 'limits.stall_timout'");
}

TEST_CASE("config: an empty file gives the documented defaults") {
  Config c = ParseConfig("", "x.toml");
  CHECK(c.repository_url.empty());
  CHECK(c.passphrase.empty());
  CHECK(c.b2.api_url == "https://api.backblazeb2.com");
  CHECK(c.b2.connections == 4);
  CHECK(c.b2.max_upload_rate == 0);
  CHECK(c.b2.retry_max_time == std::chrono::seconds(600));
  CHECK(c.b2.stall_timeout == std::chrono::seconds(120));
  CHECK(c.postgres.jobs == 2);
  CHECK(c.retention.keep_within == std::chrono::hours(24 * 30));
  CHECK(c.retention.keep_last == 3);
  CHECK(c.retention.keep_monthly == 0);  // grandfather-father-son rules are off by default
  CHECK(c.limits.run_timeout.count() == 0);  // no watchdog unless asked for
  CHECK(c.limits.stall_timeout.count() == 0);
  CHECK(c.pitr.spool_dir == "/var/lib/dhanbak/spool");
  CHECK(c.pitr.archive_async);
  CHECK(c.pitr.push_timeout == std::chrono::seconds(60));
  CHECK(c.pitr.wal_wait_timeout == std::chrono::minutes(10));
  CHECK(c.pitr.fetch_ahead == 8);
  CHECK(c.catalog_path == "/var/lib/dhanbak/catalog.sqlite");
}

TEST_CASE("config: unknown keys and tables are errors naming file, line and key") {
  CHECK(ParseError("[postgres]\nconninfo = \"\"\n\n\n\n\njob = 4\n") ==
        "/etc/dhanbak/dhanbak.toml:7: unknown key 'postgres.job'");
  CHECK(ParseError("\n[postgress]\njobs = 2\n") == "/etc/dhanbak/dhanbak.toml:2: unknown table 'postgress'");
  CHECK(ParseError("url = \"file:///x\"\n") == "/etc/dhanbak/dhanbak.toml:1: unknown key 'url'");
  // A sub-table inside a known table is an unknown key too.
  CHECK(ParseError("[b2]\nconnections = 2\n[b2.extra]\nx = 1\n") ==
        "/etc/dhanbak/dhanbak.toml:3: unknown key 'b2.extra'");
  CHECK(ParseError("repository = 3\n") == "/etc/dhanbak/dhanbak.toml:1: key 'repository' must be a table");
}

TEST_CASE("config: the first error in the file is the one reported") {
  // 'zzz' sorts last by name but comes first in the file.
  CHECK(ParseError("[postgres]\nzzz = 1\naaa = 2\n") == "/etc/dhanbak/dhanbak.toml:2: unknown key 'postgres.zzz'");
  CHECK(ParseError("[verify]\nconninfo = 1\n[b2]\nconnections = 0\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'verify.conninfo' must be a string");
}

TEST_CASE("config: wrongly typed values are errors naming file, line and key") {
  CHECK(ParseError("[postgres]\n\njobs = \"four\"\n") ==
        "/etc/dhanbak/dhanbak.toml:3: key 'postgres.jobs' must be a positive integer (at most 64)");
  CHECK(ParseError("[postgres]\njobs = 0\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'postgres.jobs' must be a positive integer (at most 64)");
  CHECK(ParseError("[postgres]\njobs = 2.5\n").find(":2: key 'postgres.jobs' must be") != std::string::npos);
  CHECK(ParseError("[postgres]\ndatabases = \"sales\"\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'postgres.databases' must be an array of strings");
  CHECK(ParseError("[postgres]\ndatabases = [\"a\", 2]\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'postgres.databases' must be an array of strings");
  CHECK(ParseError("[postgres]\ndatabases = [\"a\", \"a\"]\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'postgres.databases' lists the same name twice (entry 2 repeats an earlier one)");
  CHECK(ParseError("[postgres]\nconninfo = 5\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'postgres.conninfo' must be a string");
  CHECK(ParseError("[retention]\nkeep_last = 0\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'retention.keep_last' must be a positive integer");
  CHECK(ParseError("[retention]\nkeep_monthly = -1\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'retention.keep_monthly' must be 0 or a positive integer");
  CHECK(ParseError("[retention]\nkeep_monthy = 12\n").find("keep_monthy") != std::string::npos);
  CHECK(ParseError("[notify]\nping_commands = [\"backup\", \"restore\"]\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'notify.ping_commands' lists 'restore': the commands that notify are "
        "backup, prune, verify, check, base-backup, status");
  CHECK(ParseError("[notify]\nping_failure_url = \"ftp://x\"\n").find("ping_failure_url") != std::string::npos);
  CHECK(ParseError("[notify]\nsmtp_url = \"smtp://relay:587\"\nmail_from = \"a@b.example\"\n") ==
        "/etc/dhanbak/dhanbak.toml: [notify] smtp_url needs mail_from and mail_to (the addresses)");
  CHECK(ParseError("[notify]\nmail_to = [\"oncall@example.com\"]\n").find("need smtp_url") != std::string::npos);
  CHECK(ParseError("[notify]\nmail_to = [\"On Call <oncall@example.com>\"]\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'notify.mail_to' 'On Call <oncall@example.com>' is not an e-mail address "
        "(name@example.com)");
  CHECK(ParseError("[notify]\nsmtp_url = \"http://relay\"\n").find("smtp_url") != std::string::npos);
  CHECK(ParseError("[retention]\nkeep_within = 30\n").find(":2: key 'retention.keep_within' must be a duration") !=
        std::string::npos);
  CHECK(ParseError("[b2]\nstall_timeout = \"soon\"\n")
            .find("/etc/dhanbak/dhanbak.toml:2: key 'b2.stall_timeout' must be a duration such as") == 0);
  CHECK(ParseError("[b2]\nretry_max_time = \"0s\"\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'b2.retry_max_time' must be longer than zero");
  CHECK(ParseError("[b2]\nmax_upload_rate = \"fast\"\n")
            .find("/etc/dhanbak/dhanbak.toml:2: key 'b2.max_upload_rate' is an invalid rate: ") == 0);
  CHECK(ParseError("[b2]\nmax_upload_rate = -1\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'b2.max_upload_rate' must not be negative");
  CHECK(ParseError("[b2]\nobject_lock_days = -1\n").find(":2: key 'b2.object_lock_days' must be a non-negative") !=
        std::string::npos);
  CHECK(ParseError("[b2]\nconnections = true\n").find(":2: key 'b2.connections' must be a positive integer") !=
        std::string::npos);
  CHECK(ParseError("[repository]\nurl = \"s3://bucket\"\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'repository.url' must be a file:// or b2:// url");
  CHECK(ParseError("[repository]\nurl = \"\"\n") == "/etc/dhanbak/dhanbak.toml:2: key 'repository.url' must not be empty");
  CHECK(ParseError("[b2]\napi_url = \"ftp://x\"\n") ==
        "/etc/dhanbak/dhanbak.toml:2: key 'b2.api_url' must be a http:// or https:// url");
  CHECK(ParseError("[catalog]\npath = \"\"\n") == "/etc/dhanbak/dhanbak.toml:2: key 'catalog.path' must not be empty");
  CHECK(ParseError("[b2]\nkey_id = \"env:\"\n").find(":2: key 'b2.key_id' names an invalid environment variable") !=
        std::string::npos);
  CHECK(ParseError("[repository]\npassphrase = \"file:\"\n")
            .find(":2: key 'repository.passphrase' has an empty file path") != std::string::npos);
}

TEST_CASE("config: a rejected literal secret is never echoed") {
  std::string message = ParseError("[b2]\n# comment\napplication_key = [\"K001-supersecret\"]\n");
  CHECK(message == "/etc/dhanbak/dhanbak.toml:3: key 'b2.application_key' must be a string (env:NAME, file:PATH or literal:VALUE)");
  CHECK(message.find("supersecret") == std::string::npos);
}

TEST_CASE("config: syntax errors name file, line and column") {
  std::string message = ParseError("[repository]\nurl = \"file:///x\"\njobs = = 3\n");
  CHECK(message.rfind("/etc/dhanbak/dhanbak.toml:3:", 0) == 0);
  CHECK(message == "/etc/dhanbak/dhanbak.toml:3:8: error while parsing value: could not determine value type");
  // The column is there too: FILE:LINE:COLUMN: ...
  std::string after_line = message.substr(std::string("/etc/dhanbak/dhanbak.toml:3:").size());
  CHECK(std::isdigit(static_cast<unsigned char>(after_line[0])));

  // A duplicated key is a syntax error in TOML, reported at its second definition.
  CHECK(ParseError("[postgres]\njobs = 2\njobs = 3\n").rfind("/etc/dhanbak/dhanbak.toml:3:", 0) == 0);
  CHECK(ParseError("[postgres\n").rfind("/etc/dhanbak/dhanbak.toml:1:", 0) == 0);
}

TEST_CASE("config: LoadConfig reads a file and names a missing one") {
  TempDir dir;
  std::string path = dir.Write("dhanbak.toml", "[postgres]\njobs = 3\n", 0644);
  Config c = LoadConfig(path);
  CHECK(c.postgres.jobs == 3);
  CHECK(c.source == path);

  std::string bad = dir.Write("bad.toml", "[postgres]\njobz = 3\n", 0644);
  CHECK(ErrorOf([&] { LoadConfig(bad); }) == bad + ":2: unknown key 'postgres.jobz'");

  std::string missing = (dir.path / "nope.toml").string();
  std::string message = ErrorOf([&] { LoadConfig(missing); });
  CHECK(message == "cannot read config file " + missing + ": no such file or directory");
}

TEST_CASE("config: FindConfigPath prefers -c, then DHANBAK_CONFIG, then /etc") {
  {
    ScopedEnv env("DHANBAK_CONFIG", "/from/env.toml");
    CHECK(FindConfigPath(std::string("/explicit.toml")) == "/explicit.toml");
    CHECK(FindConfigPath(std::nullopt) == "/from/env.toml");
  }
  {
    ScopedEnv env("DHANBAK_CONFIG", nullptr);
    CHECK(FindConfigPath(std::nullopt) == "/etc/dhanbak/dhanbak.toml");
  }
  {
    ScopedEnv env("DHANBAK_CONFIG", "");
    CHECK(FindConfigPath(std::nullopt) == "/etc/dhanbak/dhanbak.toml");
  }
}

TEST_CASE("config: env: secrets") {
  Config c = ParseConfig("[b2]\n\napplication_key = \"env:DHANBAK_TEST_SECRET\"\n", "/etc/dhanbak/dhanbak.toml");
  {
    ScopedEnv env("DHANBAK_TEST_SECRET", "K001-very-secret");
    CHECK(c.b2.application_key.Resolve() == "K001-very-secret");
  }
  {
    ScopedEnv env("DHANBAK_TEST_SECRET", nullptr);
    CHECK(ErrorOf([&] { c.b2.application_key.Resolve(); }) ==
          "/etc/dhanbak/dhanbak.toml:3: key 'b2.application_key': environment variable DHANBAK_TEST_SECRET is not set");
  }
  {
    ScopedEnv env("DHANBAK_TEST_SECRET", "");
    CHECK(ErrorOf([&] { c.b2.application_key.Resolve(); }) ==
          "/etc/dhanbak/dhanbak.toml:3: key 'b2.application_key': environment variable DHANBAK_TEST_SECRET is empty");
  }
}

TEST_CASE("config: file: secrets must be private to the owner") {
  TempDir dir;
  std::string open_file = dir.Write("open", "correct horse battery\n", 0644);
  std::string private_file = dir.Write("private", "correct horse battery\n", 0600);
  std::string group_file = dir.Write("group", "correct horse battery", 0640);

  SecretRef ok{"file:" + private_file, "f.toml:2: key 'repository.passphrase'"};
  CHECK(ok.Resolve() == "correct horse battery");  // trailing newline stripped

  SecretRef open_ref{"file:" + open_file, "f.toml:2: key 'repository.passphrase'"};
  std::string message = ErrorOf([&] { open_ref.Resolve(); });
  CHECK(message == "f.toml:2: key 'repository.passphrase': refusing secret file " + open_file +
                       ": it is accessible by group or others (mode 0644); run chmod 600 " + open_file);
  CHECK(message.find("horse") == std::string::npos);

  SecretRef group_ref{"file:" + group_file, "f.toml:2: key 'repository.passphrase'"};
  CHECK(ErrorOf([&] { group_ref.Resolve(); }).find("mode 0640") != std::string::npos);

  std::string missing = (dir.path / "missing").string();
  SecretRef missing_ref{"file:" + missing, "f.toml:2: key 'repository.passphrase'"};
  CHECK(ErrorOf([&] { missing_ref.Resolve(); }) ==
        "f.toml:2: key 'repository.passphrase': secret file " + missing + " does not exist");

  std::string empty = dir.Write("empty", "\n", 0600);
  SecretRef empty_ref{"file:" + empty, "f.toml:2: key 'repository.passphrase'"};
  CHECK(ErrorOf([&] { empty_ref.Resolve(); }).find("is empty") != std::string::npos);
}

TEST_CASE("config: literal secrets resolve to themselves") {
  SecretRef literal{"literal:plain-value", "origin"};
  CHECK(literal.Resolve() == "plain-value");
  Config c = ParseConfig("[b2]\nkey_id = \"literal:0051abc:def\"\n", "f.toml");
  CHECK(c.b2.key_id.Resolve() == "0051abc:def");
  SecretRef none{"", "f.toml:1: key 'repository.passphrase'"};
  CHECK(ErrorOf([&] { none.Resolve(); }) == "f.toml:1: key 'repository.passphrase': no value configured");
}

TEST_CASE("config: durations") {
  CHECK(ParseDuration("30d") == std::chrono::hours(24 * 30));
  CHECK(ParseDuration("12h") == std::chrono::hours(12));
  CHECK(ParseDuration("90m") == std::chrono::minutes(90));
  CHECK(ParseDuration("45s") == std::chrono::seconds(45));
  CHECK(ParseDuration("2w") == std::chrono::hours(24 * 14));
  CHECK(ParseDuration("1d12h") == std::chrono::hours(36));
  CHECK(ParseDuration("1h30m15s") == std::chrono::seconds(5415));
  CHECK(ParseDuration("0s") == std::chrono::seconds(0));
  for (const char* bad : {"", "30", "d", "30x", "-1d", "1.5h", " 1d", "1d ", "1D", "99999999999999999999s"}) {
    CAPTURE(bad);
    std::string message = ErrorOf([&] { ParseDuration(bad); }, ErrorCode::kInvalidArgument);
    CHECK(message.rfind("invalid duration: expected numbers with units", 0) == 0);
  }
}

TEST_CASE("config: rates") {
  CHECK(ParseRate("1000000") == 1000000);
  CHECK(ParseRate("20MiB/s") == 20ull * 1024 * 1024);
  CHECK(ParseRate("500KB/s") == 500000);
  CHECK(ParseRate("500kB/s") == 500000);
  CHECK(ParseRate("2KiB") == 2048);
  CHECK(ParseRate("1GB/s") == 1000000000ull);
  CHECK(ParseRate("1.5MiB/s") == 1572864);
  CHECK(ParseRate("100B/s") == 100);
  CHECK(ParseRate("0") == 0);
  for (const char* bad : {"", "fast", "20Mb/s", "20MiB/h", "MiB/s", "20 MiB/s", "20XB/s", "99999999999999999999"}) {
    CAPTURE(bad);
    std::string message = ErrorOf([&] { ParseRate(bad); }, ErrorCode::kInvalidArgument);
    CHECK(message.rfind("invalid rate: ", 0) == 0);
    for (const char* value : {"fast", "20Mb", "20 MiB", "20XB", "9999"}) CHECK(message.find(value) == std::string::npos);
  }
}

}  // namespace dhanbak::config_test
