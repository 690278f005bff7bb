#include "storage/b2/b2_url.hpp"

#include <arpa/inet.h>

#include "common/encoding.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::storage::b2 {

namespace {

constexpr std::string_view kScheme = "b2://";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

B2Location ParseB2Url(const std::string& url) {
  if (!StartsWith(url, kScheme)) {
    throw Error(ErrorCode::kConfig, "the repository url is not a b2:// url");
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  B2Location location;
  auto slash = rest.find('/');
  location.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    location.prefix = std::string(prefix);
  }
  // B2 bucket names: 6-63 characters of letters, digits and '-'. Checking here turns a typo
  // into a config error instead of a confusing 400 from the service.
  bool bucket_ok = location.bucket.size() >= 6 && location.bucket.size() <= 63;
  for (char c : location.bucket) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    bucket_ok = bucket_ok && ok;
  }
  if (!bucket_ok) {
    throw Error(ErrorCode::kConfig, "the repository url's bucket name must be 6-63 letters, digits or '-'");
  }
  if (location.prefix.find("//") != std::string::npos || StartsWith(location.prefix, "/")) {
    throw Error(ErrorCode::kConfig, "the repository url's prefix must not contain '//'");
  }
  return location;
}

std::string HostOf(std::string_view url) {
  auto scheme_end = url.find("://");
  std::string_view rest = scheme_end == std::string_view::npos ? url : url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  if (StartsWith(rest, "[")) {
    auto close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? rest.npos : close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

bool IsLoopbackHost(std::string_view host) {
  std::string h = AsciiLower(host);
  if (h == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

void CheckTransportAllowed(std::string_view url) {
  std::string lower = AsciiLower(url.substr(0, 8));
  if (StartsWith(lower, "https://")) return;
  if (StartsWith(lower, "http://")) {
    if (IsLoopbackHost(HostOf(url))) return;
    throw Error(ErrorCode::kConfig, "b2 url '" + std::string(url) +
                                        "' uses plain http to a non-loopback host; use https");
  }
  throw Error(ErrorCode::kConfig, "b2 url '" + std::string(url) + "' is not an http(s) url");
}

}  // namespace dhanbak::storage::b2
