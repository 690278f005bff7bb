#include "pg/pg_tools.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include "common/log.hpp"
#include "common/subprocess.hpp"
#include "common/temp_dir.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"

namespace dhanbak::pg {
namespace {

// pg_dump runs after the backup's leader holds ACCESS SHARE on every table, so a lock it waits
// for is one queued behind a session that wants an exclusive lock, which itself waits for the
// backup: wait briefly, then fail that database and let the session go on.
constexpr int kToolLockWaitSeconds = 10;


// Secret options without a PG* variable (sslpassword) reach the tools through a connection
// service file of dhanbak's own, private to this process and removed at exit.
std::string SecretServiceFile(const std::vector<std::pair<std::string, std::string>>& secret) {
  static std::mutex mu;
  static std::unique_ptr<TempDir> dir;
  static std::string written;
  std::string text = "[dhanbak_tools]\n";
  for (const auto& [keyword, value] : secret) {
    if (value.find('\n') != std::string::npos) {
      throw Error(ErrorCode::kConfig, "[postgres] conninfo: " + keyword + " cannot contain a line break");
    }
    text += keyword + "=" + value + "\n";
  }
  std::lock_guard<std::mutex> lock(mu);
  if (!dir) dir = std::make_unique<TempDir>();
  std::string path = dir->path() + "/pg_service.conf";
  if (written != text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    if (!ok) throw Error(ErrorCode::kIo, "cannot write a connection service file in " + dir->path());
    written = text;
  }
  return path;
}

// Quotes a table name as a pg_dump pattern: inside double quotes every character is literal.
std::string ExactPattern(const std::string& schema, const std::string& name) {
  return QuoteIdent(schema) + "." + QuoteIdent(name);
}

void CheckResult(const std::string& tool, const SubprocessResult& r) {
  if (r.exit_code != 0) {
    throw Error(ErrorCode::kPg, tool + " failed (exit " + std::to_string(r.exit_code) + "): " + r.stderr_tail);
  }
}

}  // namespace

// The conninfo given to the tools with -d: the database, plus the [postgres] conninfo options
// that no PG* variable carries and that are not secret (keepalives, tcp_user_timeout, ...).
// Everything else travels in the environment, so passwords stay out of `ps`.
std::string ToolConninfo(const ToolTarget& t) {
  std::string out = "dbname=" + ConninfoValue(t.dbname);
  for (const auto& [keyword, value] : ConninfoOptionsWithoutEnv(t.conninfo).plain) {
    out += " " + keyword + "=" + ConninfoValue(value);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ToolEnvironment(const ToolTarget& t) {
  auto env = ConninfoEnvironment(t.conninfo);
  env.emplace_back("PGAPPNAME", "dhanbak");
  auto secret = ConninfoOptionsWithoutEnv(t.conninfo).secret;
  if (!secret.empty()) {
    for (const auto& [name, value] : env) {
      if (name == "PGSERVICE") {
        throw Error(ErrorCode::kConfig, "[postgres] conninfo: " + secret[0].first +
                                            " cannot be combined with service=; put it in the service file instead");
      }
    }
    env.emplace_back("PGSERVICEFILE", SecretServiceFile(secret));
    env.emplace_back("PGSERVICE", "dhanbak_tools");
  }
  return env;
}

void DumpSchemaArchive(const ToolTarget& target, const std::string& snapshot,
                       const std::vector<std::pair<std::string, std::string>>& excluded_tables,
                       const std::function<void(std::string_view)>& sink) {
  SubprocessOptions o;
  // --encoding=UTF8: the table patterns below are UTF-8 (dhanbak's sessions all are), and must
  // be compared in the same encoding by pg_dump's queries.
  o.argv = {FindPgProgram("pg_dump", target.server_version_num), "--format=custom", "--compress=0", "--encoding=UTF8",
            "--blobs", "--snapshot=" + snapshot, "--no-sync", "--lock-wait-timeout=" + std::to_string(kToolLockWaitSeconds) + "s",
            "-d", ToolConninfo(target)};
  for (const auto& [schema, name] : excluded_tables) o.argv.push_back("--exclude-table-data=" + ExactPattern(schema, name));
  o.env = ToolEnvironment(target);
  o.on_stdout = sink;
  CheckResult("pg_dump", RunSubprocess(o));
}

std::string DumpUpgradeDefinitions(const ToolTarget& target, const std::string& snapshot,
                                   const std::vector<std::pair<std::string, std::string>>& tables) {
  std::string out;
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_dump", target.server_version_num), "--binary-upgrade", "--schema-only",
            "--encoding=UTF8", "--snapshot=" + snapshot, "--no-sync", "--lock-wait-timeout=" + std::to_string(kToolLockWaitSeconds) + "s",
            "-d", ToolConninfo(target)};
  for (const auto& [schema, name] : tables) o.argv.push_back("--table=" + ExactPattern(schema, name));
  o.env = ToolEnvironment(target);
  o.on_stdout = [&](std::string_view d) { out.append(d); };
  CheckResult("pg_dump --binary-upgrade", RunSubprocess(o));
  return out;
}

void DumpGlobals(const ToolTarget& target, const std::function<void(std::string_view)>& sink) {
  std::string out;
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_dumpall", target.server_version_num), "--globals-only", "-l", ToolConninfo(target)};
  o.env = ToolEnvironment(target);
  o.on_stdout = [&](std::string_view d) { out.append(d); };
  auto r = RunSubprocess(o);
  if (r.exit_code != 0 && r.stderr_tail.find("permission denied") != std::string::npos) {
    log::Warning("pg_dumpall --globals-only needs superuser to read role passwords; "
                 "capturing roles without passwords");
    out.clear();
    o.argv.emplace_back(std::string_view("--no-role-passwords"));
    r = RunSubprocess(o);
  }
  CheckResult("pg_dumpall", r);
  sink(out);
}

void RestoreSection(const ToolTarget& target, const std::string& archive_path, const std::string& section,
                    int jobs, const std::string& list_file) {
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_restore", target.server_version_num), "--section=" + section,
            "--exit-on-error", "-d", ToolConninfo(target)};
  if (jobs > 1) o.argv.push_back("--jobs=" + std::to_string(jobs));
  if (!list_file.empty()) o.argv.push_back("--use-list=" + list_file);
  o.argv.push_back(archive_path);
  o.env = ToolEnvironment(target);
  CheckResult("pg_restore --section=" + section, RunSubprocess(o));
}

void RunPsqlScript(const ToolTarget& target, const std::string& script_path, bool stop_on_error) {
  SubprocessOptions o;
  o.argv = {FindPgProgram("psql", target.server_version_num), "-X", "-q", "-d", ToolConninfo(target),
            "-v", std::string("ON_ERROR_STOP=") + (stop_on_error ? "1" : "0"), "-f", script_path};
  o.env = ToolEnvironment(target);
  o.on_stderr_line = [](std::string_view line) { log::Warning("psql: " + std::string(line)); };
  CheckResult("psql", RunSubprocess(o));
}

std::string PgDumpVersion(int server_version_num) {
  std::string out;
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_dump", server_version_num), "--version"};
  o.on_stdout = [&](std::string_view d) { out.append(d); };
  CheckResult("pg_dump --version", RunSubprocess(o));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace dhanbak::pg

namespace dhanbak::pg {

void ArchiveToScript(int server_version_num, const std::string& archive_path, const std::string& out_path,
                     const std::string& section, const std::string& list_file) {
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_restore", server_version_num), "-f", out_path};
  if (!section.empty()) o.argv.push_back("--section=" + section);
  if (!list_file.empty()) o.argv.push_back("--use-list=" + list_file);
  o.argv.push_back(archive_path);
  CheckResult("pg_restore", RunSubprocess(o));
}

std::string ArchiveToc(int server_version_num, const std::string& archive_path) {
  std::string out;
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_restore", server_version_num), "-l", archive_path};
  o.on_stdout = [&](std::string_view d) { out.append(d); };
  CheckResult("pg_restore -l", RunSubprocess(o));
  return out;
}

void DumpScript(const ToolTarget& target, const std::vector<std::pair<std::string, std::string>>& excluded_tables,
                const std::string& out_path) {
  SubprocessOptions o;
  o.argv = {FindPgProgram("pg_dump", target.server_version_num), "--blobs", "--no-sync", "--encoding=UTF8", "-f", out_path,
            "-d", ToolConninfo(target)};
  for (const auto& [schema, name] : excluded_tables) o.argv.push_back("--exclude-table-data=" + ExactPattern(schema, name));
  o.env = ToolEnvironment(target);
  CheckResult("pg_dump", RunSubprocess(o));
}

}  // namespace dhanbak::pg
