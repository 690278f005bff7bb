#include "storage/b2/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "common/encoding.hpp"
#include "dhanbak/error.hpp"
#include "storage/b2/b2_url.hpp"

namespace dhanbak::storage::b2 {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// State shared with the curl callbacks of one transfer.
struct Transfer {
  std::string_view body;
  size_t sent = 0;
  HttpResponse* response = nullptr;
  RateLimiter* upload_limiter = nullptr;
  RateLimiter* download_limiter = nullptr;
  bool head = false;  // a HEAD request: its Content-Length announces a body that never comes
};

size_t ReadBody(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  // Small slices keep the limiter smooth; curl calls back until the body is sent.
  size_t n = std::min({size * nitems, t->body.size() - t->sent, size_t{64 * 1024}});
  t->upload_limiter->Acquire(n);
  std::memcpy(buffer, t->body.data() + t->sent, n);
  t->sent += n;
  return n;
}

int SeekBody(void* userdata, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(userdata);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->body.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->sent = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  t->response->body.append(data, size * nmemb);
  // Sleeping here stops reading the socket, so TCP flow control slows the sender.
  t->download_limiter->Acquire(size * nmemb);
  return size * nmemb;
}

// The body arrives in slices of at most 16 KiB: grown by doubling, a chunk's download would leave
// a trail of freed blocks behind it in malloc's arenas (resident, and only reused by blocks that fit).
// Sized once from Content-Length instead; a length beyond any object dhanbak stores is not trusted.
void ReserveBody(HttpResponse& response, std::string_view length) {
  constexpr uint64_t kMaxReserve = 64 * 1024 * 1024;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
  if (ec == std::errc() && end == length.data() + length.size() && n <= kMaxReserve) response.body.reserve(n);
}

size_t WriteHeader(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  std::string_view line(data, size * nitems);
  if (line.substr(0, 5) == "HTTP/") {
    // A new status line (after "100 Continue", say) starts a fresh header set.
    t->response->headers.clear();
    return size * nitems;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = AsciiLower(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (name == "content-length" && !t->head) ReserveBody(*t->response, value);
    t->response->headers[std::move(name)] = std::string(value);
  }
  return size * nitems;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(AsciiLower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(HttpSettings settings)
    : settings_(std::move(settings)),
      slots_(std::max(1, settings_.max_connections)),
      upload_limiter_(settings_.max_upload_rate),
      download_limiter_(settings_.max_download_rate) {
  GlobalInit();
}

HttpClient::~HttpClient() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* HttpClient::Borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  CURL* handle = curl_easy_init();
  if (handle == nullptr) throw Error(ErrorCode::kInternal, "curl_easy_init failed");
  return handle;
}

void HttpClient::Return(void* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

HttpResponse HttpClient::Perform(const HttpRequest& request) {
  CheckTransportAllowed(request.url);

  slots_.acquire();
  struct SlotGuard {
    std::counting_semaphore<>& s;
    ~SlotGuard() { s.release(); }
  } slot_guard{slots_};

  CURL* curl = static_cast<CURL*>(Borrow());
  // A handle whose transfer failed may hold a broken connection; curl discards those itself,
  // and curl_easy_reset keeps the live ones, so every handle goes back to the pool.
  struct HandleGuard {
    HttpClient* client;
    CURL* curl;
    ~HandleGuard() { client->Return(curl); }
  } handle_guard{this, curl};
  curl_easy_reset(curl);

  HttpResponse response;
  Transfer transfer{request.body, 0, &response, &upload_limiter_, &download_limiter_, request.method == "HEAD"};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  // No "Expect: 100-continue" round trip before every upload.
  headers = curl_slist_append(headers, "Expect:");
  struct SlistGuard {
    curl_slist* list;
    ~SlistGuard() { curl_slist_free_all(list); }
  } slist_guard{headers};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.stall_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);

  if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    throw Error(ErrorCode::kNetwork, request.method + " to " + HostOf(request.url) + " failed: " + detail);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace dhanbak::storage::b2
