#include "storage/b2/api_client.hpp"

#include "dhanbak/error.hpp"

namespace dhanbak::storage::b2 {

HttpResponse ApiClient::Run(RetryState& retry, TokenKind kind, const Attempt& attempt,
                            const std::function<void()>& on_failure) {
  for (;;) {
    std::shared_ptr<const AccountAuth> auth = session_.Get(retry);
    HttpResponse response;
    try {
      response = attempt(*auth);
    } catch (const Error& e) {
      if (!e.retryable() && e.code() != ErrorCode::kCorruption) throw;
      if (on_failure) on_failure();
      if (!retry.BackOff(e.code(), e.what())) retry.ThrowExhausted();
      continue;
    }
    B2ErrorBody error = ParseB2Error(response);
    Classification c = Classify(response.status, error.code);
    if (c.verdict == Verdict::kSuccess) return response;
    if (on_failure) on_failure();
    // The server still counts the upload URL as busy (it may hold the lock of an upload whose
    // connection broke, or not yet have released the one that just answered): a fresh URL
    // always helps, as b2sdk's UploadTokenUsedConcurrently handling does.
    if (kind == TokenKind::kUpload && error.code == "auth_token_limit") {
      if (!retry.Again(ErrorCode::kService, DescribeFailure(response))) retry.ThrowExhausted();
      continue;
    }
    switch (c.verdict) {
      case Verdict::kReauthorize:
        if (!retry.Again(ErrorCode::kService, DescribeFailure(response))) retry.ThrowExhausted();
        if (kind == TokenKind::kAccount) session_.Reauthorize(auth, retry);
        break;
      case Verdict::kRetry:
        if (!retry.BackOff(c.code, DescribeFailure(response), ParseRetryAfter(response.Header("Retry-After")))) {
          retry.ThrowExhausted();
        }
        break;
      default:
        return response;
    }
  }
}

HttpResponse ApiClient::CallRaw(const std::string& name, const nlohmann::json& body, RetryState& retry) {
  const std::string text = body.dump();
  return Run(retry, TokenKind::kAccount, [&](const AccountAuth& auth) {
    HttpRequest request;
    request.method = "POST";
    request.url = auth.api_url + "/b2api/" + kApiVersion + "/" + name;
    request.headers = {"Authorization: " + auth.token, "Content-Type: application/json"};
    request.body = text;
    return http_.Perform(request);
  });
}

nlohmann::json ApiClient::Call(const std::string& name, const nlohmann::json& body, RetryState& retry) {
  HttpResponse response = CallRaw(name, body, retry);
  if (response.status < 200 || response.status >= 300) throw ErrorFromResponse(retry.what(), response);
  auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) throw Error(ErrorCode::kPermanent, "b2: " + retry.what() + ": " + name + " answered non-json");
  return json;
}

}  // namespace dhanbak::storage::b2
