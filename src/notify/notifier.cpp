#include "notify/notifier.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/host_name.hpp"
#include "common/log.hpp"
#include "notify/mail.hpp"

namespace dhanbak::notify {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// Returns an error description, or "" on a 2xx answer.
std::string HttpRequest(const std::string& url, const std::string* json_body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return "cannot initialise libcurl";
  curl_slist* headers = nullptr;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "dhanbak/0.1");
  if (json_body != nullptr) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body->c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return curl_easy_strerror(rc);
  if (status < 200 || status >= 300) return "HTTP status " + std::to_string(status);
  return "";
}

}  // namespace

namespace {

RunSummary g_outcomes;  // the databases of this run, as the command recorded them

std::string UrlEncode(const std::string& text) {
  std::string out;
  char buf[4];
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// What to do about a failure, by exit code (design §2).
std::string NextStep(const std::string& command, int exit_code) {
  switch (exit_code) {
    case 2: return "fix the configuration or the command line (the error says which key), then run it again";
    case 3: return "a backup or the repository is damaged: run 'dhanbak check --read-data' and follow the runbook "
                   "(corrupted data); take a fresh backup now";
    case 4: return "another dhanbak run holds the lock: it is normal while one runs; if none does, see "
                   "'dhanbak status' and the repository's locks";
    case 5: return "run 'dhanbak status' on the host: a backup is too old, a verification failed, a backup is lost or "
                   "WAL archiving is stale (runbook: routine checks)";
    case 129: case 130: case 143: return "the run was stopped by a signal (shutdown?): run it again";
    default: return "read the log (journalctl -u dhanbak-" + command + ", or /var/log/dhanbak/" + command +
                    ".log), fix the cause, run 'dhanbak " + command + "' again";
  }
}

void Get(const std::string& url, const std::string& what) {
  std::string err = HttpRequest(url, nullptr);
  if (!err.empty()) log::Warning(what + " failed: " + err);
}

// `url` with "{msg}" replaced by the URL-encoded one-line outcome.
std::string WithMessage(std::string url, const std::string& message) {
  const std::string encoded = UrlEncode(message.substr(0, 200));
  for (size_t at; (at = url.find("{msg}")) != std::string::npos;) url.replace(at, 5, encoded);
  return url;
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void RecordOutcomes(const RunSummary& s) { g_outcomes = s; }

std::string OutcomeText(const std::string& command, int exit_code, const std::string& error,
                        const std::vector<std::string>& databases, double seconds) {
  const std::string host = HostName();
  char took[32];
  std::snprintf(took, sizeof took, "%.0f s", seconds);
  std::string text = "dhanbak " + command + (exit_code == 0 ? " succeeded" : " FAILED") + " on " +
                     (host.empty() ? "unknown host" : host) + " (exit " + std::to_string(exit_code) + ", took " + took +
                     ")";
  if (!databases.empty()) {
    text += "\ndatabases: ";
    for (size_t i = 0; i < databases.size(); ++i) text += (i ? ", " : "") + databases[i];
  }
  for (const auto& d : g_outcomes.databases) {
    if (!d.ok) text += "\n• " + d.database + ": " + d.error;
  }
  if (!error.empty()) text += "\nerror: " + error;
  if (exit_code != 0) text += "\nnext step: " + NextStep(command, exit_code);
  return text;
}

RunNotifier::RunNotifier(const NotifyConfig& config, std::string command, std::vector<std::string> databases)
    : config_(config), command_(std::move(command)), databases_(std::move(databases)), started_ms_(NowMillis()) {
  if (Pings() && !config_.ping_start_url.empty()) {
    Get(WithMessage(config_.ping_start_url, "dhanbak " + command_ + " started"), "start ping to [notify] ping_start_url");
  }
}

bool RunNotifier::Pings() const {
  return std::find(config_.ping_commands.begin(), config_.ping_commands.end(), command_) != config_.ping_commands.end();
}

void RunNotifier::Finish(int exit_code, const std::string& error) {
  std::vector<std::string> databases = databases_;
  for (const auto& d : g_outcomes.databases) {
    if (std::find(databases.begin(), databases.end(), d.database) == databases.end()) databases.push_back(d.database);
  }
  const double seconds = static_cast<double>(NowMillis() - started_ms_) / 1000;
  const std::string text = OutcomeText(command_, exit_code, error, databases, seconds);
  if (exit_code != 0 || config_.notify_success) {
    if (!config_.webhook_url.empty()) {
      std::string body = nlohmann::json{{"text", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::string err = HttpRequest(config_.webhook_url, &body);
      if (!err.empty()) log::Warning("notification to [notify] webhook_url failed: " + err);
    }
    if (!config_.smtp_url.empty()) {
      std::string err = SendMail(config_, "[dhanbak] " + text.substr(0, text.find('\n')), text);
      if (!err.empty()) log::Warning("notification by mail through [notify] smtp_url failed: " + err);
    }
  }
  if (!Pings()) return;
  const std::string line = text.substr(0, text.find('\n')) + (error.empty() ? "" : ": " + error);
  if (exit_code == 0 && !config_.ping_url.empty()) Get(WithMessage(config_.ping_url, line), "success ping to [notify] ping_url");
  if (exit_code != 0 && !config_.ping_failure_url.empty()) {
    Get(WithMessage(config_.ping_failure_url, line), "failure ping to [notify] ping_failure_url");
  }
}

}  // namespace dhanbak::notify
