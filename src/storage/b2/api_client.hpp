// ApiClient — runs B2 requests through the checklist's retry rules (retry_policy.hpp):
// re-authorizes on expired tokens (single flight, via AuthSession), backs off on 408/429/5xx
// and transport failures, and hands back the final response of everything else.
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "storage/b2/auth_session.hpp"
#include "storage/b2/http_client.hpp"
#include "storage/b2/retry_policy.hpp"

namespace dhanbak::storage::b2 {

// One attempt: build and send a request with the given authorization. It may throw a retryable
// Error (transport) or Error(kCorruption) (checksum mismatch), both of which are retried.
using Attempt = std::function<HttpResponse(const AccountAuth& auth)>;

// How a 401 expired/bad token is answered: re-authorize the account, or (for upload URLs,
// whose tokens are separate) just retry with a fresh upload URL.
enum class TokenKind { kAccount, kUpload };

class ApiClient {
 public:
  ApiClient(HttpClient& http, AuthSession& session) : http_(http), session_(session) {}

  HttpClient& http() { return http_; }
  AuthSession& session() { return session_; }

  // Repeats `attempt` until it succeeds or fails for good; returns that final response
  // (2xx or a permanent 4xx). Throws the RetryState summary when the budget runs out.
  // `on_failure` runs after every unsuccessful response (e.g. to discard an upload URL).
  HttpResponse Run(RetryState& retry, TokenKind kind, const Attempt& attempt,
                   const std::function<void()>& on_failure = nullptr);

  // POST {apiUrl}/b2api/v3/NAME with a JSON body and the account token; see Run.
  HttpResponse CallRaw(const std::string& name, const nlohmann::json& body, RetryState& retry);

  // CallRaw, then parses a 2xx body or throws ErrorFromResponse.
  nlohmann::json Call(const std::string& name, const nlohmann::json& body, RetryState& retry);

 private:
  HttpClient& http_;
  AuthSession& session_;
};

}  // namespace dhanbak::storage::b2
