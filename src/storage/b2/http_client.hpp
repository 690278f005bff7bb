// HttpClient — a small RAII layer over libcurl for the B2 client.
//
// Keeps a pool of easy handles so connections (and TLS sessions) are reused across requests
// (keep-alive; no handshake per object), caps the number of simultaneous transfers at
// `max_connections`, applies the shared bandwidth limiters, aborts stalled transfers
// (no byte for `stall_timeout`), always verifies TLS, and refuses plain http to anything but
// loopback. Requests and responses are held in memory: dhanbak objects are bounded (≤ 16 MiB
// chunks), so streaming would buy nothing here.
// Thread-safe: Perform may be called from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

#include "storage/b2/rate_limiter.hpp"

namespace dhanbak::storage::b2 {

struct HttpRequest {
  std::string method = "GET";         // GET, POST or HEAD
  std::string url;
  std::vector<std::string> headers;   // "Name: value"; may hold tokens, so never logged
  std::string_view body;              // POST body; must outlive Perform
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;

  // The value of a header (name in any case), or "" when absent.
  std::string Header(std::string_view name) const;
};

struct HttpSettings {
  std::string user_agent = "dhanbak/0.1";
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds stall_timeout{120};
  int max_connections = 4;
  uint64_t max_upload_rate = 0;    // bytes per second over all transfers, 0 = unlimited
  uint64_t max_download_rate = 0;  // bytes per second over all transfers, 0 = unlimited
};

class HttpClient {
 public:
  explicit HttpClient(HttpSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and returns whatever status the server answered.
  // Throws Error(kNetwork) when no complete response arrived (connect failure, reset, stall,
  // truncated body) and Error(kConfig) for a URL that CheckTransportAllowed refuses.
  HttpResponse Perform(const HttpRequest& request);

 private:
  void* Borrow();
  void Return(void* handle);

  const HttpSettings settings_;
  std::counting_semaphore<> slots_;
  RateLimiter upload_limiter_;
  RateLimiter download_limiter_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, kept with their live connections
};

}  // namespace dhanbak::storage::b2
