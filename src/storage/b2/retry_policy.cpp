#include "storage/b2/retry_policy.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <thread>

namespace dhanbak::storage::b2 {

Classification Classify(long status, std::string_view b2_code) {
  if (status >= 200 && status < 300) return {Verdict::kSuccess, ErrorCode::kInternal};
  if (status == 401 && (b2_code == "expired_auth_token" || b2_code == "bad_auth_token")) {
    return {Verdict::kReauthorize, ErrorCode::kAuth};
  }
  if (status == 408 || status == 429 || status >= 500) return {Verdict::kRetry, ErrorCode::kService};
  if (status == 401) return {Verdict::kFail, ErrorCode::kAuth};
  if (status == 404) return {Verdict::kFail, ErrorCode::kNotFound};
  if (status == 416) return {Verdict::kFail, ErrorCode::kInvalidArgument};
  return {Verdict::kFail, ErrorCode::kPermanent};
}

B2ErrorBody ParseB2Error(const HttpResponse& response) {
  B2ErrorBody out;
  auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    if (json.contains("code") && json["code"].is_string()) out.code = json["code"].get<std::string>();
    if (json.contains("message") && json["message"].is_string()) {
      out.message = json["message"].get<std::string>();
    }
  }
  return out;
}

std::string DescribeFailure(const HttpResponse& response) {
  B2ErrorBody body = ParseB2Error(response);
  std::string out = std::to_string(response.status);
  if (!body.code.empty()) out += " " + body.code;
  if (!body.message.empty()) out += ": " + body.message;
  return out;
}

Error ErrorFromResponse(const std::string& what, const HttpResponse& response) {
  Classification c = Classify(response.status, ParseB2Error(response).code);
  ErrorCode code = c.verdict == Verdict::kFail || c.verdict == Verdict::kRetry ? c.code : ErrorCode::kAuth;
  return Error(code, "b2: " + what + ": " + DescribeFailure(response));
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || seconds < 0 || end == value.data()) return std::nullopt;
  return std::chrono::milliseconds(std::min<long long>(seconds, 24 * 3600) * 1000);
}

RetryState::RetryState(std::string what, BackoffPolicy policy)
    : what_(std::move(what)), policy_(policy), start_(std::chrono::steady_clock::now()) {}

std::chrono::milliseconds RetryState::BaseDelay(int attempt) const {
  auto delay = policy_.initial;
  for (int i = 1; i < attempt && delay < policy_.max_delay; ++i) delay *= 2;
  return std::min(delay, policy_.max_delay);
}

void RetryState::Record(ErrorCode code, const std::string& failure) {
  ++attempts_;
  last_code_ = code;
  auto it = std::find_if(failures_.begin(), failures_.end(),
                         [&](const auto& f) { return f.first == failure; });
  if (it == failures_.end()) {
    failures_.emplace_back(failure, 1);
  } else {
    ++it->second;
  }
}

bool RetryState::BackOff(ErrorCode code, const std::string& failure,
                         std::optional<std::chrono::milliseconds> retry_after) {
  Record(code, failure);
  consecutive_quick_ = 0;
  ++backoffs_;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto base = BaseDelay(backoffs_);
  // "Equal jitter": half fixed, half random, so parallel clients spread out but still wait.
  std::uniform_int_distribution<long long> jitter(0, base.count() / 2);
  auto delay = std::chrono::milliseconds(base.count() / 2 + jitter(rng));
  if (retry_after && *retry_after > delay) delay = *retry_after;
  auto elapsed = std::chrono::steady_clock::now() - start_;
  if (elapsed + delay > policy_.max_time) return false;
  std::this_thread::sleep_for(delay);
  return true;
}

bool RetryState::Again(ErrorCode code, const std::string& failure) {
  if (++consecutive_quick_ > 1) {
    bool ok = BackOff(code, failure);
    consecutive_quick_ = 1;
    return ok;
  }
  Record(code, failure);
  return std::chrono::steady_clock::now() - start_ < policy_.max_time;
}

void RetryState::ThrowExhausted() const {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1fs", seconds);
  std::string message = "b2: " + what_ + ": gave up after " + std::to_string(attempts_) +
                        " attempts in " + elapsed;
  std::string sep = ": ";
  for (const auto& [failure, count] : failures_) {
    message += sep + failure;
    if (count > 1) message += " (x" + std::to_string(count) + ")";
    sep = "; ";
  }
  // Whatever failed last decides the type; a persistent checksum mismatch is corruption, the
  // rest stays retryable so a higher layer may try again later.
  ErrorCode code = last_code_;
  if (code != ErrorCode::kNetwork && code != ErrorCode::kCorruption) code = ErrorCode::kService;
  throw Error(code, message);
}

}  // namespace dhanbak::storage::b2
