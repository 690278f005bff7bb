// Fault injection: scripted through the control endpoint and through --fault flags.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "emulator/emulator_fixture.hpp"

namespace dhanbak::emulator::test::fault_test {  // this file's names, apart from its unity batch's

using nlohmann::json;

namespace {

struct Setup {
  explicit Setup(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--key", "kid:ksecret", "--bucket", "bucket-one", "--bucket", "bucket-two"};
    args.insert(args.end(), extra.begin(), extra.end());
    emulator = std::make_unique<EmulatorProcess>(tmp.path() / "data", args);
    b2 = std::make_unique<B2>(emulator->port());
    REQUIRE(b2->Authorize().status == 200);
    bucket = b2->BucketId("bucket-one");
  }
  Reply List() { return b2->Call("b2_list_buckets", {{"accountId", b2->account_id}}); }
  void Faults(const json &body) { REQUIRE(b2->Control("POST", "faults", body).status == 200); }

  TempDir tmp;
  std::unique_ptr<EmulatorProcess> emulator;
  std::unique_ptr<B2> b2;
  std::string bucket;
};

}  // namespace

TEST_CASE("faults: N-th request, seeded percentage, 429 with Retry-After, stats") {
  Setup s;
  s.Faults({{"rules", {{{"api", "b2_list_buckets"}, {"status", 503}, {"nth", 2}}}}});
  CHECK(s.List().status == 200);
  Reply second = s.List();
  CHECK(second.status == 503);
  CHECK(second.json["code"] == "service_unavailable");
  CHECK(second.json["status"] == 503);
  CHECK(s.List().status == 200);

  auto pattern = [&s] {
    s.Faults({{"rules", {{{"api", "b2_list_buckets"}, {"status", 500}, {"percent", 30}, {"seed", 11}}}}});
    std::string out;
    for (int i = 0; i < 100; ++i) out += s.List().status == 500 ? 'x' : '.';
    return out;
  };
  std::string first_run = pattern();
  auto failures = std::count(first_run.begin(), first_run.end(), 'x');
  CHECK(failures > 15);
  CHECK(failures < 45);
  CHECK(pattern() == first_run);  // same seed, same requests: same faults

  s.Faults({{"rules", {{{"api", "b2_list_buckets"}, {"status", 429}, {"retry_after", 3}, {"count", 1}}}}});
  Reply limited = s.List();
  CHECK(limited.status == 429);
  CHECK(limited.json["code"] == "too_many_requests");
  CHECK(limited.Header("Retry-After") == "3");
  CHECK(s.List().status == 200);

  s.Faults(json{{"rules", json::array()}});
  CHECK(s.b2->Control("POST", "stats/reset").status == 200);
  s.Faults({{"rules", {{{"api", "b2_list_buckets"}, {"status", 408}, {"every", 2}}}}});
  for (int i = 0; i < 4; ++i) s.List();
  Reply stats = s.b2->Control("GET", "stats");
  REQUIRE(stats.status == 200);
  CHECK(stats.json["requests"] == 4);
  CHECK(stats.json["by_api"]["b2_list_buckets"] == 4);
  CHECK(stats.json["by_status"]["408"] == 2);
  CHECK(stats.json["by_status"]["200"] == 2);
  CHECK(stats.json["faults"]["status"] == 2);
  Reply described = s.b2->Control("GET", "faults");
  CHECK(described.json["rules"][0]["fired"] == 2);
  CHECK(s.b2->Control("POST", "faults", {{"rules", {{{"kind", "bogus"}}}}}).status == 400);
}

TEST_CASE("faults from the command line") {
  Setup s({"--fault", "api=b2_get_upload_url,status=500,nth=1", "--fault", "kind=delay,delay_ms=600,api=b2_list_buckets"});
  Reply failed = s.b2->Call("b2_get_upload_url", {{"bucketId", s.bucket}});
  CHECK(failed.status == 500);
  CHECK(failed.json["code"] == "internal_error");
  CHECK(s.b2->Call("b2_get_upload_url", {{"bucketId", s.bucket}}).status == 200);
  auto started = std::chrono::steady_clock::now();
  CHECK(s.List().status == 200);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(600));
}

TEST_CASE("faults: token expiry after N requests, after S seconds, and on demand") {
  Setup s;
  s.Faults({{"rules", json::array()}, {"token_expiry", {{"requests", 3}}}});
  REQUIRE(s.b2->Authorize().status == 200);
  for (int i = 0; i < 3; ++i) CHECK(s.List().status == 200);
  Reply expired = s.List();
  CHECK(expired.status == 401);
  CHECK(expired.json["code"] == "expired_auth_token");
  REQUIRE(s.b2->Authorize().status == 200);
  CHECK(s.List().status == 200);
  s.Faults({{"rules", {{{"kind", "expire_token"}, {"api", "b2_list_buckets"}, {"nth", 1}}}}, {"token_expiry", {{"requests", 0}}}});
  CHECK(s.List().json["code"] == "expired_auth_token");
  CHECK(s.List().json["code"] == "expired_auth_token");  // the token stays expired
  REQUIRE(s.b2->Authorize().status == 200);
  CHECK(s.List().status == 200);

  Setup timed({"--token-expire-seconds", "1"});
  CHECK(timed.List().status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  CHECK(timed.List().json["code"] == "expired_auth_token");
}

TEST_CASE("faults: dropped connections mid-upload and mid-download, corrupted bytes") {
  Setup s;
  std::string data = RandomBytes(300000, 5);
  REQUIRE(s.b2->Upload(s.bucket, "obj", data).status == 200);

  s.Faults({{"rules", {{{"kind", "drop"}, {"api", "b2_upload_file"}, {"count", 1}}}}});
  Reply dropped = s.b2->Upload(s.bucket, "dropped", RandomBytes(2000000, 6));
  CHECK(dropped.status == 0);  // no HTTP response at all
  CHECK(s.b2->DownloadByName("bucket-one", "dropped").status == 404);
  CHECK(s.b2->Upload(s.bucket, "dropped", "ok").status == 200);

  s.Faults({{"rules", {{{"kind", "drop"}, {"api", "download"}, {"count", 1}}}}});
  Reply cut = s.b2->DownloadByName("bucket-one", "obj");
  CHECK((cut.status == 0 || cut.body.size() < data.size()));
  CHECK(s.b2->DownloadByName("bucket-one", "obj").body == data);

  s.Faults({{"rules", {{{"kind", "drop"}, {"api", "b2_list_file_names"}, {"count", 1}}}}});
  CHECK(s.b2->Call("b2_list_file_names", {{"bucketId", s.bucket}}).status == 0);

  s.Faults({{"rules", {{{"kind", "corrupt"}, {"api", "download"}, {"count", 1}}}}});
  Reply corrupt = s.b2->DownloadByName("bucket-one", "obj");
  CHECK(corrupt.status == 200);
  CHECK(corrupt.body.size() == data.size());
  CHECK(corrupt.body != data);
  CHECK(corrupt.Header("X-Bz-Content-Sha1") == Sha1(data));  // headers still describe the real file
  CHECK(Sha1(corrupt.body) != corrupt.Header("X-Bz-Content-Sha1"));
  CHECK(s.b2->DownloadByName("bucket-one", "obj").body == data);
}

TEST_CASE("faults: full bucket (cap_exceeded) on uploads, slow responses") {
  Setup s;
  s.Faults({{"rules", {{{"kind", "cap_exceeded"}, {"bucket", "bucket-one"}}}}});
  Reply full = s.b2->Upload(s.bucket, "x", "x");
  CHECK(full.status == 403);
  CHECK(full.json["code"] == "cap_exceeded");
  CHECK(s.b2->Upload(s.b2->BucketId("bucket-two"), "x", "x").status == 200);
  CHECK(s.List().status == 200);

  s.Faults({{"rules", {{{"kind", "delay"}, {"delay_ms", 500}, {"api", "upload"}}}}});
  auto started = std::chrono::steady_clock::now();
  CHECK(s.b2->Upload(s.bucket, "slow", "x").status == 200);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(500));
}

TEST_CASE("X-Bz-Test-Mode header modes") {
  Setup s;
  CHECK(s.b2->Upload(s.bucket, "cap", "x", {{"X-Bz-Test-Mode", "force_cap_exceeded"}}).json["code"] == "cap_exceeded");
  int failed = 0;
  for (int i = 0; i < 6; ++i) {
    Reply r = s.b2->Upload(s.bucket, "f" + std::to_string(i), "x", {{"X-Bz-Test-Mode", "fail_some_uploads"}});
    if (r.status == 503) ++failed;
  }
  CHECK(failed == 2);
  httplib::Client client("127.0.0.1", s.emulator->port());
  int expired = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = client.Post("/b2api/v2/b2_list_buckets",
                         {{"Authorization", s.b2->token},
                          {"X-Bz-Test-Mode", "expire_some_account_authorization_tokens"}},
                         json{{"accountId", s.b2->account_id}}.dump(), "application/json");
    REQUIRE(r);
    if (r->status == 401) ++expired;
  }
  CHECK(expired == 1);
}

}  // namespace dhanbak::emulator::test::fault_test
