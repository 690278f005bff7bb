// Retry classification and the bounded back-off state of the B2 client (retry_policy.hpp).
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "dhanbak/error.hpp"
#include "storage/b2/retry_policy.hpp"

namespace b2_retry_policy_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using namespace dhanbak::storage::b2;
using namespace std::chrono_literals;

TEST_CASE("b2 responses are classified as the integration checklist says") {
  CHECK(Classify(200, "").verdict == Verdict::kSuccess);
  CHECK(Classify(206, "").verdict == Verdict::kSuccess);
  CHECK(Classify(401, "expired_auth_token").verdict == Verdict::kReauthorize);
  CHECK(Classify(401, "bad_auth_token").verdict == Verdict::kReauthorize);
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L}) {
    CAPTURE(status);
    CHECK(Classify(status, "").verdict == Verdict::kRetry);
    CHECK(Classify(status, "").code == ErrorCode::kService);
  }
  CHECK(Classify(401, "unauthorized").verdict == Verdict::kFail);
  CHECK(Classify(401, "unauthorized").code == ErrorCode::kAuth);
  CHECK(Classify(403, "cap_exceeded").code == ErrorCode::kPermanent);
  CHECK(Classify(400, "bad_request").code == ErrorCode::kPermanent);
  CHECK(Classify(404, "not_found").code == ErrorCode::kNotFound);
  CHECK(Classify(416, "range_not_satisfiable").code == ErrorCode::kInvalidArgument);
}

TEST_CASE("b2 error bodies become messages with B2's code and message") {
  HttpResponse response;
  response.status = 403;
  response.body = R"({"status":403,"code":"cap_exceeded","message":"Cannot upload files, storage cap exceeded."})";
  Error e = ErrorFromResponse("put 'x'", response);
  CHECK(e.code() == ErrorCode::kPermanent);
  CHECK(std::string(e.what()) == "b2: put 'x': 403 cap_exceeded: Cannot upload files, storage cap exceeded.");
  response.body = "<html>bad gateway</html>";
  response.status = 502;
  CHECK(DescribeFailure(response) == "502");
}

TEST_CASE("b2 Retry-After is read as delta seconds") {
  CHECK(ParseRetryAfter("3") == std::chrono::milliseconds(3000));
  CHECK(ParseRetryAfter(" 0") == std::chrono::milliseconds(0));
  CHECK_FALSE(ParseRetryAfter("").has_value());
  CHECK_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
}

TEST_CASE("b2 back-off doubles up to the cap") {
  RetryState retry("op", BackoffPolicy{100ms, 1000ms, 60000ms});
  CHECK(retry.BaseDelay(1) == 100ms);
  CHECK(retry.BaseDelay(2) == 200ms);
  CHECK(retry.BaseDelay(4) == 800ms);
  CHECK(retry.BaseDelay(5) == 1000ms);
  CHECK(retry.BaseDelay(30) == 1000ms);
}

TEST_CASE("b2 retry budget is bounded and the summary lists every failure") {
  RetryState retry("get 'x'", BackoffPolicy{10ms, 20ms, 200ms});
  auto start = std::chrono::steady_clock::now();
  int tries = 0;
  while (retry.BackOff(ErrorCode::kService, "503 service_unavailable")) ++tries;
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < 400ms);
  CHECK(tries >= 5);
  try {
    retry.ThrowExhausted();
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.retryable());
    CHECK(e.code() == ErrorCode::kService);
    std::string message = e.what();
    CHECK(message.find("b2: get 'x': gave up after") == 0);
    CHECK(message.find("503 service_unavailable (x") != std::string::npos);
  }
}

TEST_CASE("b2 retry honours Retry-After and gives up when it exceeds the budget") {
  RetryState retry("op", BackoffPolicy{1ms, 2ms, 300ms});
  auto start = std::chrono::steady_clock::now();
  CHECK(retry.BackOff(ErrorCode::kService, "429 too_many_requests", 100ms));
  CHECK(std::chrono::steady_clock::now() - start >= 100ms);
  CHECK_FALSE(retry.BackOff(ErrorCode::kService, "429 too_many_requests", 10000ms));
}

TEST_CASE("b2 retry: repeated token failures back off, the first does not") {
  RetryState retry("op", BackoffPolicy{50ms, 50ms, 10000ms});
  auto start = std::chrono::steady_clock::now();
  CHECK(retry.Again(ErrorCode::kService, "401 expired_auth_token"));
  CHECK(std::chrono::steady_clock::now() - start < 25ms);
  CHECK(retry.Again(ErrorCode::kService, "401 expired_auth_token"));
  CHECK(std::chrono::steady_clock::now() - start >= 25ms);
  CHECK(retry.attempts() == 2);
}

TEST_CASE("b2 retry: a persistent checksum mismatch ends as corruption, network stays network") {
  RetryState retry("get 'x'", BackoffPolicy{1ms, 1ms, 1ms});
  retry.BackOff(ErrorCode::kNetwork, "GET to host failed");
  try {
    retry.ThrowExhausted();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kNetwork);
  }
  retry.BackOff(ErrorCode::kCorruption, "sha1 mismatch");
  try {
    retry.ThrowExhausted();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCorruption);
  }
}

}  // namespace b2_retry_policy_test
