// LoadConfig / ParseConfig / FindConfigPath — the TOML configuration of design §3.
//
// Every known key has a handler; anything else in the file is an error, because a misspelt
// key (`job = 4`) silently falling back to a default is worse than refusing to start.
#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "config/toml_field.hpp"
#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

using config_detail::TomlField;
using Handler = std::function<void(const TomlField&)>;
using Section = std::map<std::string, Handler>;

constexpr const char* kDefaultConfigPath = "/etc/dhanbak/dhanbak.toml";
constexpr int64_t kMaxInt = 1000000;

const std::vector<std::string> kHttpSchemes = {"http://", "https://"};

// A number of days, weeks or months retention keeps one backup of: 0 turns the rule off.
Handler PeriodCount(int& into) {
  return [&into](const TomlField& f) { into = static_cast<int>(f.Integer(0, kMaxInt, "0 or a positive integer")); };
}

// A bare e-mail address (local@domain): no display name, no angle brackets, nothing that could
// end an SMTP command or a header line.
std::string MailAddress(const TomlField& f, const std::string& address) {
  static const std::regex kAddress(R"([^\s<>@,;"]+@[A-Za-z0-9.-]+)");
  if (!std::regex_match(address, kAddress)) f.Fail("'" + address + "' is not an e-mail address (name@example.com)");
  return address;
}

uint32_t LineOf(const toml::key& key, const toml::node& node) {
  return key.source().begin.line != 0 ? key.source().begin.line : node.source().begin.line;
}

std::map<std::string, Section> Sections(Config& c) {
  std::map<std::string, Section> s;
  s["repository"] = {
      {"url",
       [&c](const TomlField& f) {
         std::string url = f.Url({"file://", "b2://"}, false);
         try {
           c.repository_url = NormalizeRepositoryUrl(url, "the url");
         } catch (const Error& e) {
           throw Error(ErrorCode::kConfig, f.Where() + ": key '" + f.key() + "': " + e.what());
         }
       }},
      {"passphrase", [&c](const TomlField& f) { c.passphrase = f.Secret(); }},
  };
  s["b2"] = {
      {"key_id", [&c](const TomlField& f) { c.b2.key_id = f.Secret(); }},
      {"application_key", [&c](const TomlField& f) { c.b2.application_key = f.Secret(); }},
      {"api_url", [&c](const TomlField& f) { c.b2.api_url = f.Url(kHttpSchemes, false); }},
      {"connections",
       [&c](const TomlField& f) {
         c.b2.connections = static_cast<int>(
             f.Integer(1, kMaxConnections, "a positive integer (at most " + std::to_string(kMaxConnections) + ")"));
       }},
      {"max_upload_rate", [&c](const TomlField& f) { c.b2.max_upload_rate = f.Rate(); }},
      {"max_download_rate", [&c](const TomlField& f) { c.b2.max_download_rate = f.Rate(); }},
      {"object_lock_days",
       [&c](const TomlField& f) {
         c.b2.object_lock_days = static_cast<int>(f.Integer(0, 36500, "a non-negative integer (at most 36500)"));
       }},
      {"retry_max_time", [&c](const TomlField& f) { c.b2.retry_max_time = f.Duration(false); }},
      {"stall_timeout", [&c](const TomlField& f) { c.b2.stall_timeout = f.Duration(false); }},
  };
  s["postgres"] = {
      {"conninfo", [&c](const TomlField& f) { c.postgres.conninfo = f.String(); }},
      {"databases", [&c](const TomlField& f) { c.postgres.databases = f.StringList(); }},
      {"jobs",
       [&c](const TomlField& f) {
         c.postgres.jobs =
             static_cast<int>(f.Integer(1, kMaxJobs, "a positive integer (at most " + std::to_string(kMaxJobs) + ")"));
       }},
  };
  s["limits"] = {
      {"run_timeout", [&c](const TomlField& f) { c.limits.run_timeout = f.Duration(true); }},
      {"stall_timeout", [&c](const TomlField& f) { c.limits.stall_timeout = f.Duration(true); }},
  };
  s["retention"] = {
      // Zero is allowed: it means "keep_last alone decides".
      {"keep_within", [&c](const TomlField& f) { c.retention.keep_within = f.Duration(true); }},
      // At least one: a policy that may delete every good backup is never what anyone meant.
      {"keep_last",
       [&c](const TomlField& f) {
         c.retention.keep_last = static_cast<int>(f.Integer(1, kMaxInt, "a positive integer"));
       }},
      // Grandfather-father-son, beside the two above: 0 (the default) turns a rule off.
      {"keep_daily", PeriodCount(c.retention.keep_daily)},
      {"keep_weekly", PeriodCount(c.retention.keep_weekly)},
      {"keep_monthly", PeriodCount(c.retention.keep_monthly)},
  };
  s["catalog"] = {
      {"path",
       [&c](const TomlField& f) {
         c.catalog_path = f.String();
         if (c.catalog_path.empty()) f.Fail("must not be empty");
       }},
  };
  s["notify"] = {
      {"webhook_url", [&c](const TomlField& f) { c.notify.webhook_url = f.Url(kHttpSchemes, true); }},
      {"ping_url", [&c](const TomlField& f) { c.notify.ping_url = f.Url(kHttpSchemes, true); }},
      {"ping_start_url", [&c](const TomlField& f) { c.notify.ping_start_url = f.Url(kHttpSchemes, true); }},
      {"ping_failure_url", [&c](const TomlField& f) { c.notify.ping_failure_url = f.Url(kHttpSchemes, true); }},
      {"notify_success", [&c](const TomlField& f) { c.notify.notify_success = f.Bool(); }},
      {"smtp_url", [&c](const TomlField& f) { c.notify.smtp_url = f.Url({"smtp://", "smtps://"}, true); }},
      {"smtp_user", [&c](const TomlField& f) { c.notify.smtp_user = f.Secret(); }},
      {"smtp_password", [&c](const TomlField& f) { c.notify.smtp_password = f.Secret(); }},
      {"smtp_ca_file", [&c](const TomlField& f) { c.notify.smtp_ca_file = f.AbsolutePath(); }},
      {"mail_from", [&c](const TomlField& f) { c.notify.mail_from = MailAddress(f, f.String()); }},
      {"mail_to",
       [&c](const TomlField& f) {
         c.notify.mail_to.clear();
         for (const auto& to : f.StringList()) c.notify.mail_to.push_back(MailAddress(f, to));
       }},
      {"ping_commands",
       [&c](const TomlField& f) {
         c.notify.ping_commands = f.StringList();
         for (const auto& command : c.notify.ping_commands) {
           if (std::find(kUnattendedCommands.begin(), kUnattendedCommands.end(), command) == kUnattendedCommands.end()) {
             std::string known;
             for (const auto& k : kUnattendedCommands) known += (known.empty() ? "" : ", ") + k;
             f.Fail("lists '" + command + "': the commands that notify are " + known);
           }
         }
       }},
      {"metrics_file", [&c](const TomlField& f) { c.notify.metrics_file = f.String(); }},
  };
  s["verify"] = {
      {"conninfo", [&c](const TomlField& f) { c.verify.conninfo = f.String(); }},
  };
  s["pitr"] = {
      {"spool_dir", [&c](const TomlField& f) { c.pitr.spool_dir = f.AbsolutePath(); }},
      {"scratch_dir", [&c](const TomlField& f) { c.pitr.scratch_dir = f.AbsolutePath(); }},
      {"pg_bin_dir", [&c](const TomlField& f) { c.pitr.pg_bin_dir = f.AbsolutePath(); }},
      {"archive_async", [&c](const TomlField& f) { c.pitr.archive_async = f.Bool(); }},
      {"push_timeout", [&c](const TomlField& f) { c.pitr.push_timeout = f.Duration(false); }},
      {"wal_wait_timeout", [&c](const TomlField& f) { c.pitr.wal_wait_timeout = f.Duration(false); }},
      {"max_wal_backlog", [&c](const TomlField& f) { c.pitr.max_wal_backlog = f.Size(); }},
      {"scratch_keep",
       [&c](const TomlField& f) {
         c.pitr.scratch_keep = static_cast<int>(f.Integer(0, 16, "an integer from 0 (off) to 16"));
       }},
      {"fetch_ahead",
       [&c](const TomlField& f) {
         c.pitr.fetch_ahead = static_cast<int>(f.Integer(0, 64, "an integer from 0 (off) to 64"));
       }},
  };
  return s;
}

}  // namespace

std::string FindConfigPath(const std::optional<std::string>& explicit_path) {
  if (explicit_path && !explicit_path->empty()) return *explicit_path;
  const char* env = std::getenv("DHANBAK_CONFIG");
  if (env != nullptr && *env != '\0') return env;
  return kDefaultConfigPath;
}

Config LoadConfig(const std::string& path) {
  // A directory or a device (-c /dev/null) is a mistake on the command line, not an empty
  // configuration that would send dhanbak to default paths.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    throw Error(ErrorCode::kConfig, "cannot read config file " + path + ": " + ErrnoMessage(err));
  }
  if (S_ISDIR(st.st_mode)) {
    throw Error(ErrorCode::kConfig, "config file " + path + " is a directory; give the path of a dhanbak.toml file");
  }
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::kConfig, "config file " + path + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    throw Error(ErrorCode::kConfig, "cannot read config file " + path + ": " + ErrnoMessage(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ErrorCode::kConfig, "cannot read config file " + path);
  return ParseConfig(text.str(), path);
}

Config ParseConfig(const std::string& text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    // toml++ capitalises ("Error while parsing value: ..."); dhanbak messages are lowercase.
    std::string description(e.description());
    if (!description.empty()) {
      description[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(description[0])));
    }
    // toml++ quotes the offending characters ("saw 'x'", "escape sequence '\\q'"): they are part
    // of a value, possibly a secret, and line:column already points at them.
    description = std::regex_replace(description, std::regex(", saw '[^']*'"), "");
    description = std::regex_replace(description, std::regex(" '[^']*'"), "");
    throw Error(ErrorCode::kConfig, source_name + ":" + std::to_string(at.line) + ":" +
                                        std::to_string(at.column) + ": " + description);
  }

  Config config;
  config.source = source_name;
  const auto sections = Sections(config);

  // toml++ keeps keys sorted by name; gather them first and check in file order, so that the
  // error reported is the first one in the file.
  struct Entry {
    uint32_t line;
    std::string section;
    std::string key;  // empty for the section itself
    const toml::node* node;
  };
  std::vector<Entry> entries;
  for (const auto& [section_key, section_node] : root) {
    const std::string name(section_key.str());
    entries.push_back({LineOf(section_key, section_node), name, "", &section_node});
    if (const auto* table = section_node.as_table(); table != nullptr && sections.count(name) != 0) {
      for (const auto& [key, node] : *table) entries.push_back({LineOf(key, node), name, std::string(key.str()), &node});
    }
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.line < b.line; });

  for (const Entry& e : entries) {
    const std::string where = source_name + ":" + std::to_string(e.line);
    auto section = sections.find(e.section);
    if (e.key.empty()) {
      if (section == sections.end()) {
        throw Error(ErrorCode::kConfig,
                    where + (e.node->is_table() ? ": unknown table '" : ": unknown key '") + e.section + "'");
      }
      if (!e.node->is_table()) throw Error(ErrorCode::kConfig, where + ": key '" + e.section + "' must be a table");
      continue;
    }
    const std::string full = e.section + "." + e.key;
    auto handler = section->second.find(e.key);
    if (handler == section->second.end()) throw Error(ErrorCode::kConfig, where + ": unknown key '" + full + "'");
    handler->second(TomlField(config.source, full, *e.node, e.line));
  }
  const NotifyConfig& n = config.notify;
  if (!n.smtp_url.empty() && (n.mail_from.empty() || n.mail_to.empty())) {
    throw Error(ErrorCode::kConfig, source_name + ": [notify] smtp_url needs mail_from and mail_to (the addresses)");
  }
  if (n.smtp_url.empty() && (!n.mail_to.empty() || !n.smtp_user.empty() || !n.smtp_password.empty())) {
    throw Error(ErrorCode::kConfig, source_name + ": [notify] mail_to, smtp_user and smtp_password need smtp_url "
                                                  "(the relay, smtp://host:587 or smtps://host:465)");
  }
  return config;
}

}  // namespace dhanbak
