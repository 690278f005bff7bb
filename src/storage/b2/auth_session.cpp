#include "storage/b2/auth_session.hpp"

#include <nlohmann/json.hpp>

#include "dhanbak/error.hpp"

namespace dhanbak::storage::b2 {

namespace {

std::string Base64(std::string_view in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {kTable[v >> 18], kTable[(v >> 12) & 63], kTable[(v >> 6) & 63], kTable[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {kTable[v >> 18], kTable[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kTable[v >> 18], kTable[(v >> 12) & 63], kTable[(v >> 6) & 63], '='};
  }
  return out;
}

std::string StringOr(const nlohmann::json& j, const char* key, std::string fallback = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

uint64_t NumberOr(const nlohmann::json& j, const char* key, uint64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : fallback;
}

std::string StripSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

AccountAuth ParseAuthorizeResponse(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) throw Error(ErrorCode::kPermanent, "b2: authorize account: response is not json");
  AccountAuth auth;
  auth.account_id = StringOr(json, "accountId");
  auth.token = StringOr(json, "authorizationToken");
  // v3 groups the storage values; v2 has them at the top level with `allowed`.
  const nlohmann::json* storage = &json;
  if (json.contains("apiInfo") && json["apiInfo"].contains("storageApi")) {
    storage = &json["apiInfo"]["storageApi"];
  }
  auth.api_url = StripSlash(StringOr(*storage, "apiUrl"));
  auth.download_url = StripSlash(StringOr(*storage, "downloadUrl"));
  auth.recommended_part_size = NumberOr(*storage, "recommendedPartSize", auth.recommended_part_size);
  auth.absolute_minimum_part_size =
      NumberOr(*storage, "absoluteMinimumPartSize", auth.absolute_minimum_part_size);
  const nlohmann::json* allowed = storage;
  if (storage->contains("allowed") && (*storage)["allowed"].is_object()) allowed = &(*storage)["allowed"];
  auth.allowed_bucket_id = StringOr(*allowed, "bucketId");
  auth.allowed_bucket_name = StringOr(*allowed, "bucketName");
  if (auth.account_id.empty() || auth.token.empty() || auth.api_url.empty() || auth.download_url.empty()) {
    throw Error(ErrorCode::kPermanent, "b2: authorize account: response lacks accountId, "
                                      "authorizationToken, apiUrl or downloadUrl");
  }
  return auth;
}

AuthSession::AuthSession(HttpClient& http, std::string realm_url, std::string key_id,
                         std::string application_key)
    : http_(http),
      realm_url_(StripSlash(std::move(realm_url))),
      key_id_(std::move(key_id)),
      application_key_(std::move(application_key)) {}

std::shared_ptr<const AccountAuth> AuthSession::Get(RetryState& retry) {
  {
    std::lock_guard lock(state_mu_);
    if (current_) return current_;
  }
  std::lock_guard flight(auth_mu_);
  {
    std::lock_guard lock(state_mu_);
    if (current_) return current_;
  }
  return AuthorizeLocked(retry);
}

std::shared_ptr<const AccountAuth> AuthSession::Reauthorize(const std::shared_ptr<const AccountAuth>& stale,
                                                            RetryState& retry) {
  std::lock_guard flight(auth_mu_);
  {
    std::lock_guard lock(state_mu_);
    if (current_ && stale && current_->generation > stale->generation) return current_;
  }
  return AuthorizeLocked(retry);
}

uint64_t AuthSession::authorizations() const {
  std::lock_guard lock(state_mu_);
  return current_ ? current_->generation : 0;
}

std::shared_ptr<const AccountAuth> AuthSession::AuthorizeLocked(RetryState& retry) {
  HttpRequest request;
  request.method = "GET";
  request.url = realm_url_ + "/b2api/" + kApiVersion + "/b2_authorize_account";
  request.headers.push_back("Authorization: Basic " + Base64(key_id_ + ":" + application_key_));
  for (;;) {
    HttpResponse response;
    try {
      response = http_.Perform(request);
    } catch (const Error& e) {
      if (!e.retryable()) throw;
      if (!retry.BackOff(e.code(), e.what())) retry.ThrowExhausted();
      continue;
    }
    Classification c = Classify(response.status, ParseB2Error(response).code);
    if (c.verdict == Verdict::kSuccess) {
      auto auth = std::make_shared<AccountAuth>(ParseAuthorizeResponse(response.body));
      std::lock_guard lock(state_mu_);
      auth->generation = (current_ ? current_->generation : 0) + 1;
      current_ = auth;
      return current_;
    }
    if (c.verdict == Verdict::kRetry) {
      if (!retry.BackOff(c.code, "authorize: " + DescribeFailure(response),
                         ParseRetryAfter(response.Header("Retry-After")))) {
        retry.ThrowExhausted();
      }
      continue;
    }
    // Any 4xx here, including 401 bad_auth_token, means the key itself is refused.
    throw Error(response.status == 401 || response.status == 403 ? ErrorCode::kAuth : ErrorCode::kPermanent,
                "b2: authorize account: key refused: " + DescribeFailure(response));
  }
}

}  // namespace dhanbak::storage::b2
