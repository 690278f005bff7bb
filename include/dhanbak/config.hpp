// Config — the parsed TOML configuration (design §3), with secret references resolved lazily.
//
// Secrets (`env:NAME`, `file:PATH`) are kept as references and resolved only when needed, so a
// command that does not need a secret never fails because of it, and so secrets never sit in
// this struct's printable form. A `file:` secret readable by group or others is refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dhanbak {

// A secret given as `env:NAME`, `file:/ABS/PATH` or, explicitly, `literal:VALUE`.
struct SecretRef {
  std::string spec;    // as written in the file (e.g. "env:B2_APPLICATION_KEY")
  std::string origin;  // "FILE:LINE key" for error messages
  bool empty() const { return spec.empty(); }
  // Resolves the reference; throws Error(kConfig) naming `origin` (never the secret value).
  std::string Resolve() const;
};

struct B2Config {
  SecretRef key_id;
  SecretRef application_key;
  std::string api_url = "https://api.backblazeb2.com";
  int connections = 4;
  uint64_t max_upload_rate = 0;    // bytes per second, 0 = unlimited
  uint64_t max_download_rate = 0;  // bytes per second, 0 = unlimited
  int object_lock_days = 0;
  std::chrono::seconds retry_max_time{600};  // bounded total retry time per operation
  std::chrono::seconds stall_timeout{120};   // a transfer with no bytes for this long is retried
};

struct PostgresConfig {
  std::string conninfo;  // libpq rules; may hold a password, so never log it
  std::vector<std::string> databases;
  int jobs = 2;
};

struct RetentionConfig {
  std::chrono::seconds keep_within{30 * 24 * 3600};
  int keep_last = 3;
  int keep_daily = 0, keep_weekly = 0, keep_monthly = 0;  // one per day/week/month, N of each
};

// The commands that run unattended (from cron or a timer) and so notify how they went.
inline const std::vector<std::string> kUnattendedCommands = {"backup", "prune", "verify", "check", "base-backup",
                                                            "status"};

struct NotifyConfig {
  std::string webhook_url;       // Slack-compatible: a failure (and, with notify_success, a success)
  bool notify_success = false;
  // Dead-man's switch pings of the commands in ping_commands: at start, on success, on failure.
  // "{msg}" in a URL becomes the run's one-line outcome, URL-encoded (Uptime Kuma's &msg=).
  std::string ping_start_url, ping_url, ping_failure_url;
  std::vector<std::string> ping_commands{"backup"};
  std::string metrics_file;
  // The same message by e-mail through an SMTP relay: smtp:// (STARTTLS required unless the relay
  // is on a loopback address) or smtps://.
  std::string smtp_url;
  SecretRef smtp_user, smtp_password;
  std::string smtp_ca_file;  // trust this CA (an internal relay's); "" = the system's
  std::string mail_from;
  std::vector<std::string> mail_to;
};

// [limits]: a run of an unattended command that exceeds run_timeout, or in which nothing moves
// for stall_timeout, is stopped as failed (0 = off).
struct LimitsConfig {
  std::chrono::seconds run_timeout{0};
  std::chrono::seconds stall_timeout{0};
};

struct VerifyConfig {
  std::string conninfo;  // empty = the [postgres] server
};

// [pitr]: the WAL archive and point-in-time restores (design §4).
struct PitrConfig {
  std::string spool_dir = "/var/lib/dhanbak/spool";      // async archiving state, on the database host
  std::string scratch_dir = "/var/lib/dhanbak/scratch";  // where replays run
  std::string pg_bin_dir;                                // server binaries for replays; "" = by version
  bool archive_async = true;                             // wal-push: a worker pushes ready files ahead
  std::chrono::seconds push_timeout{60};                 // wal-push: longest wait for its own file
  std::chrono::seconds wal_wait_timeout{600};            // base-backup: longest wait for its WAL to be archived
  int fetch_ahead = 8;                                   // wal-fetch: files downloaded ahead; 0 = none
  int scratch_keep = 0;  // restored base backups kept in scratch_dir for the next point-in-time restore
  uint64_t max_wal_backlog = 0;  // bytes waiting in pg_wal above which a failing wal-push gives its file up; 0 = never
};

struct Config {
  std::string source;  // path of the file the config came from
  std::string repository_url;
  SecretRef passphrase;
  B2Config b2;
  PostgresConfig postgres;
  RetentionConfig retention;
  std::string catalog_path = "/var/lib/dhanbak/catalog.sqlite";
  NotifyConfig notify;
  VerifyConfig verify;
  LimitsConfig limits;
  PitrConfig pitr;
};

// Limits shared by the configuration file and the command line.
inline constexpr int kMaxJobs = 64;
inline constexpr int kMaxConnections = 64;
// `init` and `key add` refuse shorter passphrases unless --allow-weak-passphrase is given.
inline constexpr size_t kMinPassphraseChars = 12;

// Why `spec` is not an acceptable secret value, or "" when it is. A secret must be exactly
// `env:NAME`, `file:/ABSOLUTE/PATH` or `literal:VALUE`; anything else (a typo such as `flie:`,
// `File:`, `ENV:`, a leading space, or a bare value) is refused instead of silently becoming the
// secret. The text never contains any part of `spec`.
std::string SecretSpecProblem(const std::string& spec);

// Number of characters (UTF-8 code points) of a passphrase.
size_t PassphraseLength(const std::string& passphrase);

// Validates and normalises a repository URL before anything is written:
//   file:///ABS/PATH   -> file:// + the lexically normal path ('.', '..', '//' and a trailing
//                         '/' removed), so equivalent spellings name one repository
//   b2://BUCKET[/PREFIX] -> bucket checked, trailing '/' removed; '.', '..' or empty prefix
//                         segments are refused (B2 names are literal: 'a/../b' is not 'b')
// Throws Error(kConfig) with a message that does not repeat the URL; `what` names it
// ("repository url", "--repo").
std::string NormalizeRepositoryUrl(const std::string& url, const std::string& what);

// Finds the configuration file: explicit path, else $DHANBAK_CONFIG, else /etc/dhanbak/dhanbak.toml.
std::string FindConfigPath(const std::optional<std::string>& explicit_path);

// Parses a file. Throws Error(kConfig) with "FILE:LINE: key 'a.b': problem" messages; unknown
// keys and wrongly typed values are errors.
Config LoadConfig(const std::string& path);
Config ParseConfig(const std::string& text, const std::string& source_name);

// "30d", "12h", "90m", "45s", "2w" -> seconds. Throws Error(kInvalidArgument).
std::chrono::seconds ParseDuration(const std::string& text);
// "20MiB/s", "500KB/s", "1000000" -> bytes per second. Throws Error(kInvalidArgument).
uint64_t ParseRate(const std::string& text);

}  // namespace dhanbak
