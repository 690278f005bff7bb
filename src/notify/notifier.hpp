// Notifier — tells the outside world how a run went ([notify] in the configuration):
//   webhook_url   Slack-compatible JSON {"text": ...} POSTed when an unattended command fails
//                 (backup, prune, verify, check, base-backup, status), and on success too with
//                 notify_success: host, command, databases, error, duration, the next step
//   ping_*_url    fetched (GET) at the start, success and failure of the ping_commands: a
//                 dead-man's switch (Uptime Kuma push, healthchecks.io) notices a run that
//                 never happens or never ends
// (metrics_file is command/metrics_file.hpp: it reads the catalog.)
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
};

// A backup's per-database outcomes, kept for the message the run sends when it ends
// (RunNotifier::Finish).
void RecordOutcomes(const RunSummary& summary);

// One unattended command's notifications: the start ping when constructed, the rest in Finish.
class RunNotifier {
 public:
  RunNotifier(const NotifyConfig& config, std::string command, std::vector<std::string> databases);
  // `exit_code` as the process exits with it; `error` the message it failed with ("" if none).
  void Finish(int exit_code, const std::string& error);

 private:
  bool Pings() const;
  const NotifyConfig& config_;
  std::string command_;
  std::vector<std::string> databases_;
  int64_t started_ms_ = 0;
};

// The message sent to the webhook (exposed for tests).
std::string OutcomeText(const std::string& command, int exit_code, const std::string& error,
                        const std::vector<std::string>& databases, double seconds);


}  // namespace dhanbak::notify
