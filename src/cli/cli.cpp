#include "cli/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cxxopts.hpp>
#include <functional>
#include <iostream>
#include <map>

#include "command/backup.hpp"
#include "command/check.hpp"
#include "command/context.hpp"
#include "command/export.hpp"
#include "command/init.hpp"
#include "command/list.hpp"
#include "command/prune.hpp"
#include "command/maintenance.hpp"
#include "command/metrics_file.hpp"
#include "command/restore.hpp"
#include "command/verify.hpp"
#include "command/verify_pitr.hpp"
#include "command/timeline.hpp"
#include "command/wal_fetch.hpp"
#include "command/base_backup.hpp"
#include "command/restore_cluster.hpp"
#include "command/wal_push.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "common/watchdog.hpp"
#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"
#include "notify/notifier.hpp"

namespace dhanbak::cli {
namespace {

using command::Context;
using command::GlobalOptions;

struct CommandSpec {
  const char* name;
  const char* args;
  const char* summary;
};

// Only commands that work are listed (and accepted).
const CommandSpec kCommands[] = {
    {"init", "[--allow-weak-passphrase]", "create the repository and its first key"},
    {"backup", "[DB ...]", "back up the named databases, or all configured ones"},
    {"list", "[DB]", "backups, newest first"},
    {"restore", "DB [--at TIME [--source wal|nightly] | --backup ID] [--target-db NAME | --replace]",
     "restore one database (from the WAL archive when it covers TIME, else the nightly backups)"},
    {"verify", "[DB ... | --all] [--at TIME | --backup ID] | --pitr [DB ...] [--at TIME]",
     "restore into scratch databases, check, drop (--pitr: from the WAL archive at a random point of the last week)"},
    {"export", "DB [--at TIME | --backup ID] -o FILE|- [--force]", "plain SQL, restorable with psql alone"},
    {"timeline", "DB --around TIME [--minutes N]",
     "the transactions that changed DB near TIME, from the archived WAL: pick the second to restore to"},
    {"check", "[--read-data]", "repository integrity (with --read-data: every byte)"},
    {"prune", "[--dry-run] [--forget-database DB]", "apply retention: delete expired backups and unreferenced chunks"},
    {"status", "[--max-age DURATION] [--max-wal-age DURATION] [--max-pitr-age DURATION]", "last backup / verification per database, WAL archive age"},
    {"catalog", "rebuild", "recreate the local catalog from storage"},
    {"base-backup", "", "physical backup of the whole cluster (replication protocol), for point-in-time restores"},
    {"restore-cluster", "--at TIME --pgdata DIR [--tablespace-map OLD=NEW ...] [--amcheck]",
     "the whole cluster as it was at TIME, from a base backup and the WAL archive"},
    {"wal-push", "PATH", "archive_command: archive_command = 'dhanbak -c FILE wal-push %p'"},
    {"wal-fetch", "NAME PATH", "restore_command: restore_command = 'dhanbak -c FILE wal-fetch %f %p'"},
    {"key", "add --new-passphrase env:NAME|file:PATH [--allow-weak-passphrase] | list | remove ID",
     "passphrases that unlock the repository"},
};

void AddGlobalOptions(cxxopts::Options& o) {
  o.add_options("global")
      ("c,config", "configuration file", cxxopts::value<std::string>())
      ("repo", "repository URL (overrides repository.url)", cxxopts::value<std::string>())
      ("json", "machine-readable output")
      ("q,quiet", "only warnings and errors")
      ("v,verbose", "debug output")
      ("no-progress", "no progress display")
      ("log-format", "text (default) or json: one JSON object per log line, for Loki or journald",
       cxxopts::value<std::string>())
      ("allow-root", "allow running as root")
      ("version", "print the version and exit")
      ("h,help", "show help");
}

std::string Usage() {
  std::string s =
      "usage: dhanbak [-c FILE] [--repo URL] [--json] [-q|-v] [--no-progress] [--log-format text|json]\n"
      "               [--allow-root] COMMAND ...\n"
      "       dhanbak --version\n\n"
      "commands:\n";
  for (const auto& c : kCommands) {
    std::string head = std::string("  ") + c.name + " " + c.args;
    if (head.size() < 52) head.resize(52, ' ');
    s += head + " " + c.summary + "\n";
  }
  s += "\nexit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 verification found a difference\n"
       "or corruption, 4 another run holds the lock, 5 status alert, 129/130/143 stopped by SIGHUP/SIGINT/SIGTERM\n"
       "run 'dhanbak COMMAND --help' for a command's options\n";
  return s;
}

void ApplyGlobals(const cxxopts::ParseResult& r, GlobalOptions& g) {
  if (r.count("config")) g.config_path = r["config"].as<std::string>();
  if (r.count("repo")) g.repo_url = r["repo"].as<std::string>();
  if (r.count("json")) g.json = true;
  if (r.count("quiet")) g.quiet = true;
  if (r.count("verbose")) g.verbose = true;
  if (r.count("no-progress")) g.no_progress = true;
  if (r.count("log-format")) {
    const std::string format = r["log-format"].as<std::string>();
    if (format != "text" && format != "json") {
      throw Error(ErrorCode::kInvalidArgument, "--log-format takes text or json (got '" + format + "')");
    }
    log::SetFormat(format == "json" ? log::Format::kJson : log::Format::kText);
  }
  if (r.count("allow-root")) g.allow_root = true;
}

// --jobs N: the same limits as [postgres] jobs in the configuration.
std::optional<int> Jobs(const cxxopts::ParseResult& r) {
  if (!r.count("jobs")) return std::nullopt;
  int jobs = r["jobs"].as<int>();
  if (jobs < 1 || jobs > kMaxJobs) {
    throw Error(ErrorCode::kInvalidArgument,
                "--jobs must be between 1 and " + std::to_string(kMaxJobs) + " (got " + std::to_string(jobs) + ")");
  }
  return jobs;
}

std::optional<std::string> Opt(const cxxopts::ParseResult& r, const std::string& name) {
  if (!r.count(name)) return std::nullopt;
  return r[name].as<std::string>();
}

std::vector<std::string> Positionals(const cxxopts::ParseResult& r) {
  if (!r.count("args")) return {};
  return r["args"].as<std::vector<std::string>>();
}

int RunCommand(Context& ctx, const std::string& cmd, const cxxopts::ParseResult& r, const std::vector<std::string>& args);

// 128 + the signal's number after SIGINT (130) or SIGTERM (143), as shells report a process
// killed by that signal, once the run has cleaned up; `code` otherwise.
int ExitCode(int code) {
  if (!InterruptReason().empty()) return 1;  // [limits] stopped it: the run failed
  int sig = InterruptSignal();
  return sig != 0 ? 128 + sig : code;
}


// An unattended command (cron, a timer): notifies its start, its failure (or success) and pings
// as [notify] says. Never changes the exit code; a notification that fails is only logged.
int RunNotified(Context& ctx, const std::string& cmd, const std::vector<std::string>& args,
                const std::function<int()>& run) {
  const Config* config = nullptr;
  try {
    config = &ctx.config();
  } catch (const Error&) {
    return run();  // no configuration to notify with: the command itself says what is wrong
  }
  std::vector<std::string> databases = args;
  if (databases.empty() && (cmd == "backup" || cmd == "verify")) databases = config->postgres.databases;
  notify::RunNotifier notifier(config->notify, cmd, databases);
  Watchdog watchdog(config->limits.run_timeout, config->limits.stall_timeout);
  const auto started = std::chrono::steady_clock::now();
  auto finish = [&](int code, std::string error) {
    code = ExitCode(code);
    if (std::string why = InterruptReason(); !why.empty()) error = std::move(why);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    command::WriteMetricsFile(ctx, cmd, code, seconds);
    notifier.Finish(code, error);
  };
  int code = 0;
  try {
    code = run();
  } catch (const Error& e) {
    finish(ExitCodeFor(e.code()), e.what());
    throw;
  } catch (const std::exception& e) {
    finish(1, std::string("internal error: ") + e.what());
    throw;
  }
  finish(code, "");
  return code;
}

int Dispatch(const std::string& cmd, int argc, char** argv, GlobalOptions globals) {
  cxxopts::Options o("dhanbak " + cmd);
  AddGlobalOptions(o);
  o.add_options("command")("args", "positional arguments", cxxopts::value<std::vector<std::string>>());
  if (cmd == "backup") {
    o.add_options("command")("j,jobs", "parallel connections per database", cxxopts::value<int>());
  } else if (cmd == "restore") {
    o.add_options("command")
        ("at", "the database as it was at TIME (latest, 2024-01-15, 2024-01-15T14:30, ...)", cxxopts::value<std::string>())
        ("source", "wal (replay the WAL archive to TIME) or nightly (the newest nightly backup at or before TIME); "
                   "default: wal when the archive covers TIME", cxxopts::value<std::string>())
        ("backup", "restore this backup id", cxxopts::value<std::string>())
        ("target-db", "new database to restore into", cxxopts::value<std::string>())
        ("replace", "restore under a temporary name, verify, then swap it with the live database")
        ("yes", "do not ask for confirmation (--replace)")
        ("terminate-connections", "with --replace: end other sessions on the live database")
        ("target-conninfo", "restore onto another server (libpq conninfo)", cxxopts::value<std::string>())
        ("globals", "first recreate roles and tablespaces from the backup's cluster globals")
        ("table", "restore only SCHEMA.TABLE (repeatable)", cxxopts::value<std::vector<std::string>>())
        ("j,jobs", "parallel connections", cxxopts::value<int>())
        ("no-verify", "skip the table-by-table verification");
  } else if (cmd == "verify") {
    o.add_options("command")
        ("all", "every configured database")
        ("at", "newest good backup at or before TIME", cxxopts::value<std::string>())
        ("backup", "verify this backup id", cxxopts::value<std::string>())
        ("pitr", "restore from the WAL archive (at a random point of the last week, or --at) and prove the chain")
        ("j,jobs", "parallel connections", cxxopts::value<int>());
  }
  if (cmd == "restore-cluster") {
    o.add_options("command")
        ("at", "the point in time (latest, 2024-01-15 14:31:05, ...)", cxxopts::value<std::string>())
        ("pgdata", "empty or absent directory for the cluster", cxxopts::value<std::string>())
        ("tablespace-map", "restore tablespace OLD into NEW (repeatable)", cxxopts::value<std::vector<std::string>>())
        ("amcheck", "after recovery, check every table and index with pg_amcheck");
  }
  if (cmd == "check") o.add_options("command")("read-data", "download and authenticate every chunk");
  if (cmd == "timeline") {
    o.add_options("command")
        ("around", "the time to look around (2024-01-15 14:31, ...)", cxxopts::value<std::string>())
        ("minutes", "how far on either side (default 10)", cxxopts::value<int>());
  }
  if (cmd == "prune") {
    o.add_options("command")("dry-run", "show what would be deleted and which rule keeps each backup; delete nothing")
        ("forget-database", "delete every backup of this retired database, whatever retention keeps",
         cxxopts::value<std::string>());
  }
  if (cmd == "status") {
    o.add_options("command")("max-age", "alert (exit 5) when the last good backup is older, e.g. 26h",
                              cxxopts::value<std::string>())
        ("max-wal-age", "alert (exit 5) when the newest archived WAL is older, e.g. 15m", cxxopts::value<std::string>())
        ("max-pitr-age", "alert (exit 5) when a database's last point-in-time verification is older, e.g. 8d",
         cxxopts::value<std::string>());
  }
  if (cmd == "key") {
    o.add_options("command")("new-passphrase", "key add: env:NAME or file:PATH holding the new passphrase",
                              cxxopts::value<std::string>())
        ("allow-weak-passphrase", "key add: accept a passphrase shorter than 12 characters (not recommended)");
  }
  if (cmd == "init") {
    o.add_options("command")("allow-weak-passphrase", "accept a passphrase shorter than 12 characters (not recommended)");
  }
  if (cmd == "export") {
    o.add_options("command")
        ("at", "newest good backup at or before TIME", cxxopts::value<std::string>())
        ("backup", "export this backup id", cxxopts::value<std::string>())
        ("o,output", "output file (created 0600), or - for standard output", cxxopts::value<std::string>())
        ("force", "overwrite an existing output file");
  }
  o.parse_positional({"args"});
  o.positional_help(std::string("COMMAND ARGS"));
  auto r = o.parse(argc, argv);
  if (r.count("help")) {
    std::cout << o.help({"command", "global"});
    return 0;
  }
  if (r.count("version")) {
    std::cout << "dhanbak " << Version() << "\n";
    return 0;
  }
  ApplyGlobals(r, globals);
  log::SetCommand(cmd);
  if (globals.quiet) log::SetLevel(log::Level::kWarning);
  if (globals.verbose) log::SetLevel(log::Level::kDebug);
  Progress::SetEnabled(!globals.no_progress);
  if (::geteuid() == 0 && !globals.allow_root) {
    throw Error(ErrorCode::kInvalidArgument,
                "dhanbak refuses to run as root: run it as the backup service user, or pass --allow-root");
  }
  auto args = Positionals(r);
  Context ctx(globals);
  auto run = [&] { return RunCommand(ctx, cmd, r, args); };
  const bool unattended = std::find(kUnattendedCommands.begin(), kUnattendedCommands.end(), cmd) != kUnattendedCommands.end();
  return unattended ? RunNotified(ctx, cmd, args, run) : run();
}

int RunCommand(Context& ctx, const std::string& cmd, const cxxopts::ParseResult& r, const std::vector<std::string>& args) {
  if (cmd == "init") {
    if (!args.empty()) throw Error(ErrorCode::kInvalidArgument, "init takes no arguments");
    return command::RunInit(ctx, r.count("allow-weak-passphrase") > 0);
  }
  if (cmd == "backup") {
    command::BackupOptions b;
    b.databases = args;
    b.jobs = Jobs(r);
    return command::RunBackup(ctx, b);
  }
  if (cmd == "list") {
    if (args.size() > 1) throw Error(ErrorCode::kInvalidArgument, "list takes at most one database name");
    return command::RunList(ctx, args.empty() ? std::nullopt : std::optional<std::string>(args[0]));
  }
  if (cmd == "restore") {
    if (args.size() != 1) throw Error(ErrorCode::kInvalidArgument, "restore takes exactly one database name");
    command::RestoreOptions ro;
    ro.database = args[0];
    ro.at = Opt(r, "at");
    ro.backup_id = Opt(r, "backup");
    if (ro.at && ro.backup_id) throw Error(ErrorCode::kInvalidArgument, "give --at or --backup, not both");
    ro.source = Opt(r, "source").value_or("");
    if (!ro.source.empty() && ro.source != "wal" && ro.source != "nightly") {
      throw Error(ErrorCode::kInvalidArgument, "--source takes wal or nightly (got '" + ro.source + "')");
    }
    if (ro.source == "wal" && ro.backup_id) {
      throw Error(ErrorCode::kInvalidArgument, "--backup names a nightly backup: it cannot be combined with --source wal");
    }
    ro.target_db = Opt(r, "target-db");
    ro.target_conninfo = Opt(r, "target-conninfo");
    ro.replace = r.count("replace") > 0;
    ro.yes = r.count("yes") > 0;
    ro.terminate_connections = r.count("terminate-connections") > 0;
    ro.globals = r.count("globals") > 0;
    if (r.count("table")) ro.tables = r["table"].as<std::vector<std::string>>();
    ro.jobs = Jobs(r);
    ro.verify = r.count("no-verify") == 0;
    log::Subject subject(ro.database);
    return command::RunRestore(ctx, ro);
  }
  if (cmd == "timeline") {
    if (args.size() != 1) throw Error(ErrorCode::kInvalidArgument, "timeline takes exactly one database name");
    command::TimelineOptions to;
    to.database = args[0];
    auto around = Opt(r, "around");
    if (!around) throw Error(ErrorCode::kInvalidArgument, "usage: dhanbak timeline DB --around TIME [--minutes N]");
    to.around = *around;
    if (r.count("minutes")) to.minutes = r["minutes"].as<int>();
    return command::RunTimeline(ctx, to);
  }
  if (cmd == "check") {
    if (!args.empty()) throw Error(ErrorCode::kInvalidArgument, "check takes no arguments");
    return command::RunCheck(ctx, r.count("read-data") > 0);
  }
  if (cmd == "prune") {
    if (!args.empty()) throw Error(ErrorCode::kInvalidArgument, "prune takes no arguments");
    return command::RunPrune(ctx, command::PruneOptions{r.count("dry-run") > 0, Opt(r, "forget-database").value_or("")});
  }
  if (cmd == "status") {
    if (!args.empty()) throw Error(ErrorCode::kInvalidArgument, "status takes no arguments");
    auto max_age = Opt(r, "max-age");
    auto max_wal_age = Opt(r, "max-wal-age");
    auto max_pitr_age = Opt(r, "max-pitr-age");
    for (const auto& [flag, value] : {std::pair{"--max-age", max_age}, std::pair{"--max-wal-age", max_wal_age},
                                      std::pair{"--max-pitr-age", max_pitr_age}}) {
      if (!value) continue;
      try {
        (void)ParseDuration(*value);
      } catch (const Error& e) {
        throw Error(ErrorCode::kInvalidArgument, std::string(flag) + " '" + *value + "': " + e.what());
      }
    }
    return command::RunStatus(ctx, max_age, max_wal_age, max_pitr_age);
  }
  if (cmd == "catalog") {
    if (args.size() != 1 || args[0] != "rebuild") throw Error(ErrorCode::kInvalidArgument, "usage: dhanbak catalog rebuild");
    return command::RunCatalogRebuild(ctx);
  }
  if (cmd == "key") {
    if (args.size() == 1 && args[0] == "add") {
      auto ref = Opt(r, "new-passphrase");
      if (!ref) throw Error(ErrorCode::kInvalidArgument, "key add needs --new-passphrase env:NAME or file:PATH");
      return command::RunKeyAdd(ctx, *ref, r.count("allow-weak-passphrase") > 0);
    }
    if (args.size() == 1 && args[0] == "list") return command::RunKeyList(ctx);
    if (args.size() == 2 && args[0] == "remove") return command::RunKeyRemove(ctx, args[1]);
    throw Error(ErrorCode::kInvalidArgument, "usage: dhanbak key add --new-passphrase REF | key list | key remove ID");
  }
  if (cmd == "export") {
    if (args.size() != 1) throw Error(ErrorCode::kInvalidArgument, "export takes exactly one database name");
    command::ExportOptions eo;
    eo.database = args[0];
    eo.at = Opt(r, "at");
    eo.backup_id = Opt(r, "backup");
    if (eo.at && eo.backup_id) throw Error(ErrorCode::kInvalidArgument, "give --at or --backup, not both");
    eo.output = Opt(r, "output").value_or("");
    eo.force = r.count("force") > 0;
    return command::RunExport(ctx, eo);
  }
  if (cmd == "verify") {
    command::VerifyOptions vo;
    vo.databases = args;
    vo.all = r.count("all") > 0;
    if (vo.all && !args.empty()) throw Error(ErrorCode::kInvalidArgument, "give database names or --all, not both");
    vo.at = Opt(r, "at");
    vo.backup_id = Opt(r, "backup");
    vo.jobs = Jobs(r);
    if (r.count("pitr")) {
      if (vo.backup_id) throw Error(ErrorCode::kInvalidArgument, "--backup names a nightly backup: not with --pitr");
      return command::RunVerifyPitr(ctx, command::VerifyPitrOptions{vo.databases, vo.jobs, vo.at});
    }
    return command::RunVerify(ctx, vo);
  }
  if (cmd == "base-backup") {
    if (!args.empty()) throw Error(ErrorCode::kInvalidArgument, "base-backup takes no arguments");
    return command::RunBaseBackup(ctx);
  }
  if (cmd == "restore-cluster") {
    if (!args.empty()) throw Error(ErrorCode::kInvalidArgument, "restore-cluster takes no arguments");
    command::RestoreClusterOptions rc;
    auto at = Opt(r, "at");
    auto pgdata = Opt(r, "pgdata");
    if (!at || !pgdata) {
      throw Error(ErrorCode::kInvalidArgument, "usage: dhanbak restore-cluster --at TIME|latest --pgdata DIR");
    }
    rc.at = *at;
    rc.pgdata = *pgdata;
    if (r.count("tablespace-map")) rc.tablespace_map = r["tablespace-map"].as<std::vector<std::string>>();
    rc.amcheck = r.count("amcheck") > 0;
    return command::RunRestoreCluster(ctx, rc);
  }
  if (cmd == "wal-push") {
    if (args.size() != 1) throw Error(ErrorCode::kInvalidArgument, "usage: dhanbak wal-push PATH (archive_command's %p)");
    return command::RunWalPush(ctx, args[0]);
  }
  if (cmd == "wal-fetch") {
    if (args.size() != 2) {
      throw Error(ErrorCode::kInvalidArgument, "usage: dhanbak wal-fetch NAME PATH (restore_command's %f %p)");
    }
    return command::RunWalFetch(ctx, args[0], args[1]);
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown command '" + cmd + "'\n" + Usage());
}

}  // namespace

namespace {

// PostgreSQL reads the exit codes of its archive and restore commands: above 125 kills the
// archiver (so wal-push never exits that high), and anything but 0 or 1 from restore_command must
// stop recovery rather than end it (wal-fetch maps every failure that is not "no such file" above 125).
int CommandExitCode(const std::string& cmd, int code) {
  if (cmd == "wal-push" && code > 125) return 1;
  if (cmd == "wal-fetch") return command::WalFetchExitCode(code);
  return code;
}

int RunMain(int argc, char** argv, std::string& cmd_out) {
  // The command is the first argument that is neither an option nor an option's value.
  int cmd_index = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c" || a == "--config" || a == "--repo" || a == "--log-format") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    cmd_index = i;
    break;
  }
  try {
    if (cmd_index < 0) {
      cxxopts::Options o("dhanbak");
      AddGlobalOptions(o);
      auto r = o.parse(argc, argv);
      if (r.count("version") && !r.count("help")) {
        std::cout << "dhanbak " << Version() << "\n";
        return 0;
      }
      std::cout << Usage();
      return r.count("help") ? 0 : 2;
    }
    std::string cmd = argv[cmd_index];
    cmd_out = cmd;
    bool known = false;
    for (const auto& c : kCommands) known = known || cmd == c.name;
    if (!known) {
      std::cerr << "dhanbak: error: unknown command '" << cmd << "'\n" << Usage();
      return 2;
    }
    // Globals before the command are parsed together with the command's own options.
    std::vector<char*> args;
    args.push_back(argv[0]);
    for (int i = 1; i < argc; ++i)
      if (i != cmd_index) args.push_back(argv[i]);
    return Dispatch(cmd, static_cast<int>(args.size()), args.data(), GlobalOptions{});
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "dhanbak: error: " << e.what() << "\n";
    return 2;
  } catch (const Error& e) {
    log::Error(e.what());
    return ExitCodeFor(e.code());
  } catch (const std::exception& e) {
    log::Error(std::string("internal error: ") + e.what());
    return 1;
  }
}

}  // namespace

int Main(int argc, char** argv) {
  InstallInterruptHandlers();
  std::string cmd;
  int code = RunMain(argc, argv, cmd);
  return CommandExitCode(cmd, ExitCode(code));
}

}  // namespace dhanbak::cli
