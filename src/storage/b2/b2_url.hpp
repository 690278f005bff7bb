// Repository URLs (`b2://BUCKET/PREFIX`) and the transport rule for every URL the B2 client
// contacts: https always, plain http only to loopback hosts (the emulator in tests).
#pragma once

#include <string>
#include <string_view>

namespace dhanbak::storage::b2 {

struct B2Location {
  std::string bucket;
  std::string prefix;  // without leading or trailing '/'; empty = bucket root
};

// Parses `b2://BUCKET[/PREFIX]`. Throws Error(kConfig) on anything else.
B2Location ParseB2Url(const std::string& url);

// The host part of an http(s) URL, without port or brackets ("::1" for "http://[::1]:80/x").
std::string HostOf(std::string_view url);

// 127.0.0.0/8, ::1 and localhost.
bool IsLoopbackHost(std::string_view host);

// Throws Error(kConfig) unless `url` is https://, or http:// to a loopback host.
void CheckTransportAllowed(std::string_view url);

}  // namespace dhanbak::storage::b2
