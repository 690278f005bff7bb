#include "command/metrics_file.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <sstream>
#include <vector>

#include "command/wal_report.hpp"
#include "common/file_io.hpp"
#include "common/log.hpp"

namespace dhanbak::command {
namespace {

std::string Label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double v) {
  std::ostringstream s;
  s.precision(15);
  s << v;
  return s.str();
}

// Gauges written family by family (HELP and TYPE once, then every sample).
class Families {
 public:
  void Add(const std::string& name, const std::string& help, const std::string& labels, double value) {
    AddRaw(name, help, name + (labels.empty() ? "" : "{" + labels + "}") + " " + Number(value));
  }
  // A sample line as it stands (one kept from the previous file).
  void AddRaw(const std::string& name, const std::string& help, const std::string& sample) {
    auto& f = families_[name];
    if (f.samples.empty() && f.help.empty()) order_.push_back(name);
    if (f.help.empty()) f.help = help;
    f.samples.push_back(sample);
  }
  std::string Text() const {
    std::string out;
    for (const auto& name : order_) {
      const auto& f = families_.at(name);
      out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " gauge\n";
      for (const auto& s : f.samples) out += s + "\n";
    }
    return out;
  }

 private:
  struct Family {
    std::string help;
    std::vector<std::string> samples;
  };
  std::map<std::string, Family> families_;
  std::vector<std::string> order_;
};

constexpr const char* kRunSuccess = "dhanbak_last_run_success";
constexpr const char* kRunTime = "dhanbak_last_run_timestamp_seconds";
constexpr const char* kRunDuration = "dhanbak_last_run_duration_seconds";

}  // namespace

std::string MetricsSnapshot(Context& ctx, const std::string& command, int exit_code, double seconds,
                            const std::string& previous, int64_t now) {
  Families m;
  const std::string cmd = "command=\"" + Label(command) + "\"";
  m.Add(kRunSuccess, "1 if the command's last run succeeded (exit 0), else 0", cmd, exit_code == 0 ? 1 : 0);
  m.Add(kRunTime, "when the command's last run ended", cmd, static_cast<double>(now));
  m.Add(kRunDuration, "how long the command's last run took", cmd, seconds);
  // The other commands' last runs, from the file as it was.
  std::istringstream lines(previous);
  for (std::string line; std::getline(lines, line);) {
    for (const char* family : {kRunSuccess, kRunTime, kRunDuration}) {
      if (line.starts_with(std::string(family) + "{") && line.find(cmd) == std::string::npos) {
        m.AddRaw(family, "", line);
      }
    }
  }

  const Config& config = ctx.config();
  const std::string url = ctx.repository_url();
  auto& cat = ctx.catalog();
  // One listing of the catalog, grouped by database (newest first, as listed).
  std::map<std::string, std::vector<catalog::BackupRecord>> by_database;
  for (const auto& db : config.postgres.databases) by_database[db];
  for (auto& b : cat.ListBackups(url, std::nullopt)) by_database[b.database].push_back(std::move(b));
  double stored_total = 0;
  for (const auto& [db, backups] : by_database) {
    const std::string l = "database=\"" + Label(db) + "\"";
    auto newest = std::find_if(backups.begin(), backups.end(), [](const auto& b) { return b.status != "running"; });
    auto good = std::find_if(backups.begin(), backups.end(), [](const auto& b) { return b.status == "ok"; });
    for (const auto& b : backups) {
      if (b.status == "ok") stored_total += static_cast<double>(b.stored_bytes);
    }
    m.Add("dhanbak_backup_last_run_success", "1 if the database's last backup succeeded, else 0", l,
          newest != backups.end() && newest->status == "ok" ? 1 : 0);
    m.Add("dhanbak_backup_last_success_timestamp_seconds", "snapshot time of the newest good backup (0: none)", l,
          good != backups.end() ? static_cast<double>(good->snapshot_time / 1000000) : 0);
    if (good != backups.end()) {
      m.Add("dhanbak_backup_duration_seconds", "how long the newest good backup took", l,
            static_cast<double>(good->finished_at - good->started_at) / 1e6);
      m.Add("dhanbak_backup_rows", "rows in the newest good backup", l, static_cast<double>(good->rows));
      m.Add("dhanbak_backup_logical_bytes", "COPY, schema and globals bytes of the newest good backup", l,
            static_cast<double>(good->logical_bytes));
      m.Add("dhanbak_backup_stored_bytes",
            "bytes the newest good backup uploaded (new to the repository, after dedup, compression, encryption)", l,
            static_cast<double>(good->stored_bytes));
    }
    if (auto v = cat.LastVerification(db)) {
      m.Add("dhanbak_verify_last_success", "1 if the last restore test of the database passed, else 0", l,
            v->status == "ok" ? 1 : 0);
      m.Add("dhanbak_verify_last_timestamp_seconds", "when the last restore test ran", l,
            static_cast<double>(v->at / 1000000));
    }
    if (auto p = cat.LastPitrVerification(db)) {
      m.Add("dhanbak_pitr_verify_last_success", "1 if the last point-in-time restore test passed, else 0", l,
            p->status == "ok" ? 1 : 0);
      m.Add("dhanbak_pitr_verify_last_timestamp_seconds", "when the last point-in-time restore test ran", l,
            static_cast<double>(p->at / 1000000));
      m.Add("dhanbak_restore_test_duration_seconds", "the last point-in-time restore test, end to end (the RTO)", l,
            static_cast<double>(p->rto_millis) / 1000);
    }
  }
  for (const auto& b : cat.ListBaseBackups(url)) {
    if (b.status == "ok") stored_total += static_cast<double>(b.stored_bytes);
  }
  m.Add("dhanbak_repository_stored_bytes", "bytes stored by the backups and base backups the catalog lists", "",
        stored_total);
  const auto wal = QuickWalSummary(ctx);
  if (!wal.empty()) {
    m.Add("dhanbak_wal_newest_age_seconds", "seconds since the newest WAL segment was archived (the RPO)", "",
          static_cast<double>(NewestWalAgeSeconds(wal, now * 1000000)));
  }
  return m.Text();
}

void WriteMetricsFile(Context& ctx, const std::string& command, int exit_code, double seconds) {
  const std::string& path = ctx.config().notify.metrics_file;
  if (path.empty()) return;
  try {
    const std::string text =
        MetricsSnapshot(ctx, command, exit_code, seconds, ReadFileIfExists(path).value_or(""), std::time(nullptr));
    WriteFileAtomically(path, text, 0644, false);
  } catch (const std::exception& e) {
    log::Warning("cannot write the metrics file " + path + ": " + e.what());
  }
}

}  // namespace dhanbak::command
