#include "support/wal_archive_env.hpp"
#include "support/build_under_test.hpp"
#include "support/temp_root.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace dhanbak::test {
namespace {

namespace fs = std::filesystem;

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void WriteFile(const std::string& path, const std::string& text, fs::perms perms) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
  out.close();
  fs::permissions(path, perms);
}

}  // namespace

WalArchiveEnv::WalArchiveEnv(const std::string& extra_config) {
  dir_ = MakeTestTempDir("dhanbak-wal");
  fs::copy_file(DhanbakBinary(), binary());
  fs::permissions(binary(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  WriteFile(dir_ + "/passphrase", "wal archive test passphrase\n", fs::perms::owner_read | fs::perms::owner_write);
  WriteFile(config_path(),
            "[repository]\nurl = \"file://" + repo_dir() + "\"\npassphrase = \"file:" + dir_ +
                "/passphrase\"\n[catalog]\npath = \"" + dir_ + "/catalog.sqlite\"\n[pitr]\nspool_dir = \"" +
                spool_dir() + "\"\nscratch_dir = \"" + scratch_dir() + "\"\n" + extra_config,
            fs::perms::owner_read | fs::perms::owner_write);
  GiveToServerUser(dir_);
  ProcessResult r = Run({"init", "--allow-weak-passphrase"});
  if (r.exit_code != 0) throw std::runtime_error("dhanbak init failed: " + r.err);
}

WalArchiveEnv::~WalArchiveEnv() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string WalArchiveEnv::ArchiveCommand() const {
  return ShellQuote(binary()) + " -c " + ShellQuote(config_path()) + " wal-push %p";
}

std::string WalArchiveEnv::RestoreCommand() const {
  return ShellQuote(binary()) + " -c " + ShellQuote(config_path()) + " wal-fetch %f %p";
}

std::vector<std::string> WalArchiveEnv::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = AsServerUser({binary(), "-c", config_path(), "--no-progress"});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessResult WalArchiveEnv::Run(const std::vector<std::string>& args, std::chrono::seconds timeout,
                                 const std::string& tz) const {
  ProcessOptions options;
  options.cwd = dir_;
  options.env = {{"TZ", tz}};
  options.unset_env = {"DHANBAK_CONFIG", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"};
  options.timeout = timeout;
  return RunProcess(Argv(args), options);
}

std::string ConfString(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

void WalArchiveEnv::EnableArchiving(PgCluster& cluster) const {
  cluster.Reconfigure("wal_level = replica\narchive_mode = on\narchive_command = " + ConfString(ArchiveCommand()) + "\n");
}

std::vector<std::string> WalArchiveEnv::ArchivedFiles() const {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(repo_dir() + "/wal", ec)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    auto dash = name.rfind('-');
    if (name.starts_with(".") || dash == std::string::npos) continue;
    files.push_back(name.substr(0, dash));
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string WalArchiveEnv::SwitchAndWaitArchived(PgCluster& cluster, std::chrono::seconds timeout) const {
  // A switch right after another one is a no-op: write something first.
  cluster.Psql("postgres", "CREATE TEMP TABLE IF NOT EXISTS wal_switch_filler(x int); INSERT INTO wal_switch_filler VALUES (1)");
  std::string segment = cluster.Psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
  WaitForSql(cluster, "SELECT last_archived_wal >= '" + segment + "' FROM pg_stat_archiver", "t", timeout);
  return segment;
}

DataDirServer::DataDirServer(const std::string& bindir, std::string data_dir, const std::string& settings)
    : bindir_(bindir), data_dir_(std::move(data_dir)), socket_dir_(fs::path(data_dir_).parent_path().string()) {
  port_ = FreeTcpPort();
  {
    std::ofstream conf(data_dir_ + "/postgresql.auto.conf", std::ios::app);
    conf << "\nport = " << port_ << "\nlisten_addresses = ''\nunix_socket_directories = '" << socket_dir_ << "'\n"
         << settings << "\n";
    if (!conf) throw std::runtime_error("cannot write " + data_dir_ + "/postgresql.auto.conf");
  }
  GiveToServerUser(data_dir_);
  ProcessOptions options;
  options.cwd = socket_dir_;
  options.unset_env = {"PGDATA", "PGPORT", "PGHOST", "PGOPTIONS"};
  options.timeout = std::chrono::minutes(3);
  ProcessResult r = RunProcess(AsServerUser({bindir_ + "/pg_ctl", "-D", data_dir_, "-l", data_dir_ + "/../server.log",
                                             "-w", "-t", "150", "start"}),
                               options);
  if (r.exit_code != 0) throw std::runtime_error("cannot start the restored server: " + r.err + r.out + "\n" + Log());
}

DataDirServer::~DataDirServer() {
  ProcessOptions options;
  options.cwd = socket_dir_;
  options.timeout = std::chrono::minutes(1);
  RunProcess(AsServerUser({bindir_ + "/pg_ctl", "-D", data_dir_, "-m", "immediate", "-w", "stop"}), options);
}

std::string DataDirServer::Psql(const std::string& db, const std::string& sql) const {
  ProcessOptions options;
  options.stdin_text = sql;
  options.timeout = std::chrono::minutes(2);
  options.unset_env = {"PGDATABASE", "PGSERVICE"};
  std::string out = RunOrThrow({bindir_ + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", socket_dir_, "-p",
                                std::to_string(port_), "-U", "postgres", "-d", db},
                               options);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string DataDirServer::Log() const {
  std::ifstream in(data_dir_ + "/../server.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace dhanbak::test
