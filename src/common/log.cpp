#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <mutex>
#include <utility>
#include <nlohmann/json.hpp>

#include "common/host_name.hpp"

namespace dhanbak::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};
std::mutex g_mu;  // guards the lines and the fields below
std::string g_command, g_database, g_backup_id;

const char* Name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "";
}

}  // namespace

void SetLevel(Level level) { g_level = level; }
Level GetLevel() { return g_level; }
void SetFormat(Format format) { g_format = format; }

void SetCommand(const std::string& command) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_command = command;
}

Subject::Subject(const std::string& database) : exceptions_(std::uncaught_exceptions()) {
  std::lock_guard<std::mutex> lock(g_mu);
  previous_database_ = std::exchange(g_database, database);
  previous_backup_id_ = std::exchange(g_backup_id, "");
}

Subject::~Subject() {
  if (std::uncaught_exceptions() > exceptions_) return;
  std::lock_guard<std::mutex> lock(g_mu);
  g_database = previous_database_;
  g_backup_id = previous_backup_id_;
}

void Subject::SetBackupId(const std::string& backup_id) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_backup_id = backup_id;
}

namespace {

// One JSON object per line; invalid UTF-8 in a message (a byte from a file name) is replaced.
void WriteJson(Level level, const std::string& message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[40];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000));
  static const std::string host = HostName();
  nlohmann::ordered_json line{{"time", std::string(ts) + ms}, {"level", Name(level)}, {"message", message}};
  if (!g_command.empty()) line["command"] = g_command;
  if (!g_database.empty()) line["database"] = g_database;
  if (!g_backup_id.empty()) line["backup_id"] = g_backup_id;
  line["host"] = host;
  line["pid"] = static_cast<int>(::getpid());
  std::fputs((line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n").c_str(), stderr);
}

}  // namespace

void Write(Level level, const std::string& message) {
  if (level < g_level.load()) return;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_format.load() == Format::kJson) {
    WriteJson(level, message);
    std::fflush(stderr);
    return;
  }
  static const bool tty = isatty(STDERR_FILENO) == 1;
  if (!tty) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    std::fputs(ts, stderr);
  }
  std::fprintf(stderr, "dhanbak: %s: %s\n", Name(level), message.c_str());
  std::fflush(stderr);
}

std::string FormatBytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace dhanbak::log
