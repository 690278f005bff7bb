#include "notify/notifier.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/host_name.hpp"
#include "common/log.hpp"

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

void WriteMetrics(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      log::Warning("cannot write the metrics file " + path);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) log::Warning("cannot write the metrics file " + path + ": " + ec.message());
}

}  // namespace

bool RunSummary::ok() const {
  for (const auto& d : databases)
    if (!d.ok) return false;
  return !databases.empty();
}

std::string MetricsText(const RunSummary& s, int64_t now) {
  std::string p = "dhanbak_" + s.command;
  std::string out;
  auto metric = [&](const std::string& name, const std::string& help, auto value_of) {
    out += "# HELP " + p + "_" + name + " " + help + "\n# TYPE " + p + "_" + name + " gauge\n";
    for (const auto& d : s.databases) {
      out += p + "_" + name + "{database=\"" + Label(d.database) + "\"} " + value_of(d) + "\n";
    }
  };
  metric("last_run_success", "1 if the last run for the database succeeded, else 0",
         [](const DatabaseOutcome& d) { return std::string(d.ok ? "1" : "0"); });
  metric("last_run_timestamp_seconds", "when the last run ended",
         [&](const DatabaseOutcome&) { return std::to_string(now); });
  metric("last_success_timestamp_seconds", "time of the newest good backup (0: none)",
         [](const DatabaseOutcome& d) { return std::to_string(d.last_good_unix_seconds); });
  metric("duration_seconds", "duration of the last run",
         [](const DatabaseOutcome& d) { return std::to_string(d.duration_seconds); });
  if (s.command == "backup") {
    metric("rows", "rows in the last good backup of this run",
           [](const DatabaseOutcome& d) { return std::to_string(d.rows); });
    metric("logical_bytes", "COPY, schema and globals bytes of the backup",
           [](const DatabaseOutcome& d) { return std::to_string(d.logical_bytes); });
    metric("stored_bytes", "bytes newly stored by the backup (after dedup, compression, encryption)",
           [](const DatabaseOutcome& d) { return std::to_string(d.stored_bytes); });
  }
  return out;
}

void Notify(const NotifyConfig& config, const RunSummary& s) {
  if (!config.metrics_file.empty()) WriteMetrics(config.metrics_file, MetricsText(s, std::time(nullptr)));
  if (!s.ok() && !config.webhook_url.empty()) {
    std::string host = HostName();
    std::string text = "dhanbak " + s.command + " failed on " + (host.empty() ? "unknown host" : host) + ":";
    for (const auto& d : s.databases) {
      if (!d.ok) text += "\n• " + d.database + ": " + d.error;
    }
    std::string body = nlohmann::json{{"text", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string err = HttpRequest(config.webhook_url, &body);
    if (!err.empty()) log::Warning("failure notification to [notify] webhook_url failed: " + err);
  }
  if (s.ok() && !config.ping_url.empty()) {
    std::string err = HttpRequest(config.ping_url, nullptr);
    if (!err.empty()) log::Warning("success ping to [notify] ping_url failed: " + err);
  }
}

}  // namespace dhanbak::notify
