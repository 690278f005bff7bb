// Notifier — tells the outside world how a run went ([notify] in the configuration):
//   webhook_url   Slack-compatible JSON {"text": ...} POSTed when a run fails
//   ping_url      fetched (GET) when a run succeeds: a dead-man's switch (Uptime Kuma push,
//                 healthchecks.io) notices when backups silently stop
//   metrics_file  Prometheus textfile-collector output, rewritten atomically after each run
// Notification problems are logged as warnings and never change the run's exit code. URLs can
// carry tokens (a Slack webhook URL is a secret), so they are never logged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dhanbak/config.hpp"

namespace dhanbak::notify {

struct DatabaseOutcome {
  std::string database;
  bool ok = false;
  std::string backup_id;
  std::string error;
  int64_t rows = 0, logical_bytes = 0, stored_bytes = 0;
  double duration_seconds = 0;
  int64_t last_good_unix_seconds = 0;  // newest good backup, from this run or earlier; 0 = none
};

struct RunSummary {
  std::string command;  // "backup" or "verify"
  std::vector<DatabaseOutcome> databases;
  bool ok() const;
};

void Notify(const NotifyConfig& config, const RunSummary& summary);

// The Prometheus text exposition of a run (exposed for tests).
std::string MetricsText(const RunSummary& summary, int64_t now_unix_seconds);

}  // namespace dhanbak::notify
