// Logging to stderr: plain lines "dhanbak: LEVEL: message" (with a UTC timestamp when stderr
// is not a terminal, e.g. under cron). Messages must never contain secrets.
#pragma once

#include <string>

namespace dhanbak::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLevel(Level level);
Level GetLevel();
void Write(Level level, const std::string& message);
inline void Debug(const std::string& m) { Write(Level::kDebug, m); }
inline void Info(const std::string& m) { Write(Level::kInfo, m); }
inline void Warning(const std::string& m) { Write(Level::kWarning, m); }
inline void Error(const std::string& m) { Write(Level::kError, m); }

// "1.5 GiB", "312 KiB", "12 B"
std::string FormatBytes(double bytes);

}  // namespace dhanbak::log
