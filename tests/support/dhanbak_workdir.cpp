#include "support/dhanbak_workdir.hpp"
#include "support/build_under_test.hpp"
#include "support/temp_root.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace dhanbak::test {

std::string TomlString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

DhanbakWorkdir::DhanbakWorkdir(PgCluster& cluster, const WorkdirOptions& options) {
  dir_ = MakeTestTempDir("dhanbak-it");
  config_path_ = dir_ + "/dhanbak.toml";
  repo_dir_ = dir_ + "/repository";
  catalog_path_ = dir_ + "/catalog/catalog.sqlite";
  passphrase_path_ = dir_ + "/passphrase";
  conninfo_ = "host=127.0.0.1 port=" + std::to_string(cluster.port()) + " user=postgres";
  {
    std::ofstream p(passphrase_path_);
    p << "integration test passphrase " << dir_ << "\n";
  }
  ::chmod(passphrase_path_.c_str(), 0600);
  WriteConfig(options);
}

DhanbakWorkdir::~DhanbakWorkdir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void DhanbakWorkdir::WriteConfig(const WorkdirOptions& options) {
  std::ostringstream t;
  t << "[repository]\n"
    << "url = " << TomlString("file://" + repo_dir_) << "\n"
    << "passphrase = " << TomlString("file:" + passphrase_path_) << "\n\n"
    << "[postgres]\n"
    << "conninfo = " << TomlString(conninfo_) << "\n"
    << "databases = [";
  for (size_t i = 0; i < options.databases.size(); ++i) t << (i ? ", " : "") << TomlString(options.databases[i]);
  t << "]\n"
    << "jobs = " << options.jobs << "\n\n"
    << "[catalog]\n"
    << "path = " << TomlString(catalog_path_) << "\n";
  if (!options.verify_conninfo.empty()) {
    t << "\n[verify]\nconninfo = " << TomlString(options.verify_conninfo) << "\n";
  }
  std::ofstream out(config_path_, std::ios::trunc);
  out << t.str();
  out.close();
  if (!out) throw std::runtime_error("cannot write " + config_path_);
}

std::vector<std::string> DhanbakWorkdir::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {DhanbakBinary(), "-c", config_path_, "--allow-root", "--no-progress"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessResult DhanbakWorkdir::Run(const std::vector<std::string>& args, ProcessOptions options) const {
  // The configuration names the server; keep stray PG* variables of the caller out of it.
  for (const char* v : {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGHOSTADDR", "PGSERVICE"}) {
    options.unset_env.push_back(v);
  }
  if (options.timeout.count() == 0) options.timeout = std::chrono::minutes(5);
  return RunProcess(Argv(args), options);
}

std::string Describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\n--- stdout:\n" + r.out +
         "\n--- stderr:\n" + r.err;
}

std::string DhanbakWorkdir::RunOk(const std::vector<std::string>& args, ProcessOptions options) const {
  ProcessResult r = Run(args, options);
  if (r.exit_code != 0) {
    throw std::runtime_error(DescribeCommand(Argv(args)) + " failed: " + Describe(r));
  }
  return r.out;
}

std::vector<std::string> DhanbakWorkdir::GoodBackups(const std::string& database) const {
  auto doc = nlohmann::json::parse(RunOk({"list", database, "--json"}));
  std::vector<std::string> ids;
  for (const auto& b : doc.at("backups")) {
    if (b.at("status") == "ok" && b.at("database") == database) ids.push_back(b.at("backup_id").get<std::string>());
  }
  return ids;
}

std::vector<std::string> DatabasesWithPrefix(PgCluster& cluster, const std::string& prefix) {
  std::string out = cluster.Psql("postgres", "SELECT datname FROM pg_database WHERE left(datname, " +
                                                 std::to_string(prefix.size()) + ") = " + QuoteLiteral(prefix) +
                                                 " ORDER BY 1");
  std::vector<std::string> names;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace dhanbak::test
