#include "notify/mail.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <string_view>

#include "common/encoding.hpp"
#include "common/host_name.hpp"
#include "format/crypto.hpp"

namespace dhanbak::notify {
namespace {

struct Upload {
  std::string_view data;
  size_t offset = 0;
};

size_t ReadMessage(char* buffer, size_t size, size_t n, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t count = std::min(size * n, upload->data.size() - upload->offset);
  std::copy_n(upload->data.data() + upload->offset, count, buffer);
  upload->offset += count;
  return count;
}

size_t DiscardReply(char*, size_t size, size_t n, void*) { return size * n; }

// The relay's host name in smtp[s]://[user@]host[:port][/...].
std::string UrlHost(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (rest.starts_with("[")) return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// "Tue, 01 Dec 2026 21:30:00 +0000" (RFC 5322).
std::string MailDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// A header value on one line: a line break in a subject would start a header of its own.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

std::string MailMessage(const NotifyConfig& config, const std::string& subject, const std::string& body,
                        const std::string& date, const std::string& message_id) {
  std::string to;
  for (const auto& address : config.mail_to) to += (to.empty() ? "" : ", ") + address;
  std::string message = "Date: " + date + "\r\nFrom: dhanbak <" + config.mail_from + ">\r\nTo: " + to +
                        "\r\nSubject: " + OneLine(subject) + "\r\nMessage-ID: <" + message_id +
                        ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n";
  for (size_t start = 0; start < body.size();) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    message += body.substr(start, end - start) + "\r\n";
    start = end + 1;
  }
  return message;
}

std::string SendMail(const NotifyConfig& config, const std::string& subject, const std::string& body) {
  std::string user, password;
  try {
    if (!config.smtp_user.empty()) user = config.smtp_user.Resolve();
    if (!config.smtp_password.empty()) password = config.smtp_password.Resolve();
  } catch (const std::exception& e) {
    return e.what();
  }
  const std::string host = HostName();
  const std::string message = MailMessage(config, subject, body, MailDate(),
                                          HexEncode(crypto::RandomBytes(12)) + "@" + (host.empty() ? "dhanbak" : host));
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return "cannot initialise libcurl";
  curl_slist* recipients = nullptr;
  for (const auto& to : config.mail_to) recipients = curl_slist_append(recipients, ("<" + to + ">").c_str());
  Upload upload{message};
  const std::string from = "<" + config.mail_from + ">";
  curl_easy_setopt(curl, CURLOPT_URL, config.smtp_url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadMessage);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardReply);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // smtp://: STARTTLS or nothing, but to a relay on this machine (where plain SMTP crosses no
  // network) it is used when offered.
  if (config.smtp_url.starts_with("smtp://")) {
    curl_easy_setopt(curl, CURLOPT_USE_SSL, IsLoopback(UrlHost(config.smtp_url)) ? CURLUSESSL_TRY : CURLUSESSL_ALL);
  }
  if (!config.smtp_ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config.smtp_ca_file.c_str());
  if (!user.empty()) curl_easy_setopt(curl, CURLOPT_USERNAME, user.c_str());
  if (!password.empty()) curl_easy_setopt(curl, CURLOPT_PASSWORD, password.c_str());
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(recipients);
  curl_easy_cleanup(curl);
  if (rc == CURLE_OK) return "";
  std::string what = curl_easy_strerror(rc);
  if (error[0] != '\0') what += std::string(" (") + error + ")";
  if (rc == CURLE_USE_SSL_FAILED) what += ": the relay does not offer STARTTLS; use smtps:// or a relay that does";
  // Never the secrets: libcurl's messages do not hold them, but make sure.
  for (const std::string* secret : {&user, &password}) {
    for (size_t at; !secret->empty() && (at = what.find(*secret)) != std::string::npos;) what.replace(at, secret->size(), "***");
  }
  return what;
}

}  // namespace dhanbak::notify
