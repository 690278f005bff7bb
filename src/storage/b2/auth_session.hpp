// AuthSession — the cached account authorization (b2_authorize_account, API v3) with
// single-flight re-authorization: when many threads see an expired token at once, exactly one
// of them calls b2_authorize_account and the rest wait for and share its result.
//
// dhanbak uses API v3: its authorize response groups the storage values under
// apiInfo.storageApi; the parser also accepts the flat v2 shape, so an emulator or proxy that
// answers v2-style still works. Every other call is sent with the v3 path too (B2 allows the
// newest version number on every call).
// Thread-safe. Holds the key in memory only; never puts it in a message.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/b2/http_client.hpp"
#include "storage/b2/retry_policy.hpp"

namespace dhanbak::storage::b2 {

inline constexpr const char* kApiVersion = "v3";

struct AccountAuth {
  uint64_t generation = 0;  // increases with every successful authorization
  std::string account_id;
  std::string token;
  std::string api_url;
  std::string download_url;
  uint64_t recommended_part_size = 100'000'000;
  uint64_t absolute_minimum_part_size = 5'000'000;
  std::string allowed_bucket_id;    // empty unless the key is restricted to one bucket
  std::string allowed_bucket_name;
};

// Parses a v3 (or v2) authorize response body; throws Error(kPermanent) if fields are missing.
AccountAuth ParseAuthorizeResponse(const std::string& body);

class AuthSession {
 public:
  AuthSession(HttpClient& http, std::string realm_url, std::string key_id, std::string application_key);

  // The current authorization, authorizing first if there is none yet.
  std::shared_ptr<const AccountAuth> Get(RetryState& retry);

  // To be called after a request made with `stale` was refused with expired/bad token. Only
  // the first caller for a given generation authorizes again; the others get its result.
  std::shared_ptr<const AccountAuth> Reauthorize(const std::shared_ptr<const AccountAuth>& stale,
                                                 RetryState& retry);

  // Number of b2_authorize_account calls that succeeded (for tests and statistics).
  uint64_t authorizations() const;

 private:
  std::shared_ptr<const AccountAuth> AuthorizeLocked(RetryState& retry);

  HttpClient& http_;
  const std::string realm_url_;
  const std::string key_id_;
  const std::string application_key_;
  std::mutex auth_mu_;  // held for the whole b2_authorize_account exchange: the single flight
  mutable std::mutex state_mu_;
  std::shared_ptr<const AccountAuth> current_;
};

}  // namespace dhanbak::storage::b2
