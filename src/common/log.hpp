// Logging to stderr: plain lines "dhanbak: LEVEL: message" (with a UTC timestamp when stderr
// is not a terminal, e.g. under cron), or with --log-format json one JSON object per line for
// Loki or journald: time, level, message, command, database and backup_id (when the line is about
// one), host, pid. Messages must never contain secrets.
#pragma once

#include <string>

namespace dhanbak::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

enum class Format { kText, kJson };

void SetLevel(Level level);
void SetFormat(Format format);
void SetCommand(const std::string& command);
Level GetLevel();
void Write(Level level, const std::string& message);
inline void Debug(const std::string& m) { Write(Level::kDebug, m); }
inline void Info(const std::string& m) { Write(Level::kInfo, m); }
inline void Warning(const std::string& m) { Write(Level::kWarning, m); }
inline void Error(const std::string& m) { Write(Level::kError, m); }

// While it lives, log lines are about this database (and backup, once SetBackupId names it);
// the subject before it comes back when it ends, unless an exception ends it: the error line that
// the command then logs names the database it failed on. One at a time per run: databases are
// processed one after another, and the threads working on one log about it.
class Subject {
 public:
  explicit Subject(const std::string& database);
  ~Subject();
  Subject(const Subject&) = delete;
  Subject& operator=(const Subject&) = delete;
  static void SetBackupId(const std::string& backup_id);

 private:
  std::string previous_database_, previous_backup_id_;
  int exceptions_ = 0;
};

// "1.5 GiB", "312 KiB", "12 B"
std::string FormatBytes(double bytes);

}  // namespace dhanbak::log
