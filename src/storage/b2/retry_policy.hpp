// How the B2 client reacts to each answer, following B2's integration checklist
// (reference §8), and the bounded back-off loop state shared by every call of one operation.
//
//  - 2xx (and 206)                                  → success
//  - 401 expired_auth_token / bad_auth_token        → re-authorize (single flight), retry at once
//  - 408, 429, any 5xx, transport failures          → back off with jitter (≥ Retry-After), retry
//  - 401 other                                      → fail: kAuth
//  - 404                                            → fail: kNotFound
//  - 416                                            → fail: kInvalidArgument (range past the end)
//  - other 4xx (400 bad_request, 403 cap_exceeded…) → fail: kPermanent
// Once the next attempt would start after `max_time`, the operation fails with a retryable
// Error (kService / kNetwork) whose message summarises every attempt.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dhanbak/error.hpp"
#include "storage/b2/http_client.hpp"

namespace dhanbak::storage::b2 {

enum class Verdict { kSuccess, kReauthorize, kRetry, kFail };

struct Classification {
  Verdict verdict;
  ErrorCode code;  // for kRetry / kFail
};

Classification Classify(long status, std::string_view b2_code);

// The `code` and `message` fields of a B2 error body; tolerant of non-JSON bodies.
struct B2ErrorBody {
  std::string code;
  std::string message;
};
B2ErrorBody ParseB2Error(const HttpResponse& response);

// "503 service_unavailable: message" — what the summary and error messages show.
std::string DescribeFailure(const HttpResponse& response);

// Error for a response that will not succeed: "b2: WHAT: 403 cap_exceeded: message".
Error ErrorFromResponse(const std::string& what, const HttpResponse& response);

// Retry-After in delta-seconds (the only form B2 sends); nullopt when absent or unparsable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value);

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};   // first delay, doubled per attempt
  std::chrono::milliseconds max_delay{64000};
  std::chrono::milliseconds max_time{600000};  // total budget of one operation
};

// Not thread-safe: one per operation (per Put/Get/...), on the calling thread.
class RetryState {
 public:
  RetryState(std::string what, BackoffPolicy policy);

  const std::string& what() const { return what_; }

  // Records a transient failure and sleeps the jittered back-off (at least `retry_after`).
  // Returns false, without sleeping, when that would run past the budget.
  bool BackOff(ErrorCode code, const std::string& failure,
               std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

  // Records a failure that is answered by re-authorizing or a fresh upload URL: the first in a
  // row is retried at once, repeated ones back off (a server that keeps refusing fresh tokens
  // must not be hammered). Returns false when past the budget.
  bool Again(ErrorCode code, const std::string& failure);

  // Throws the summary Error: "b2: WHAT: gave up after N attempts in Xs: F1 (×3); F2".
  [[noreturn]] void ThrowExhausted() const;

  int attempts() const { return attempts_; }

  // The un-jittered delay before retry number `attempt` (1-based); exposed for tests.
  std::chrono::milliseconds BaseDelay(int attempt) const;

 private:
  void Record(ErrorCode code, const std::string& failure);

  std::string what_;
  BackoffPolicy policy_;
  std::chrono::steady_clock::time_point start_;
  int attempts_ = 0;
  int backoffs_ = 0;
  int consecutive_quick_ = 0;
  ErrorCode last_code_ = ErrorCode::kService;
  std::vector<std::pair<std::string, int>> failures_;  // distinct failures, first-seen order
};

}  // namespace dhanbak::storage::b2
