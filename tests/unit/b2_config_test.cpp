// B2 repository URLs, the loopback-only http rule, authorize-response parsing, and OpenStorage
// dispatch — everything that needs no server.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "support/error_code.hpp"
#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"
#include "storage/b2/auth_session.hpp"
#include "storage/b2/b2_storage.hpp"
#include "storage/b2/b2_url.hpp"
#include "storage/open_storage.hpp"

namespace b2_config_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using namespace dhanbak::storage::b2;

using dhanbak::test::CodeOf;

namespace {

dhanbak::B2Config LiteralKeys(const std::string& api_url) {
  dhanbak::B2Config config;
  config.key_id.spec = "env:DHANBAK_TEST_B2_UNIT_KEY_ID";
  config.application_key.spec = "env:DHANBAK_TEST_B2_UNIT_KEY";
  config.api_url = api_url;
  setenv("DHANBAK_TEST_B2_UNIT_KEY_ID", "unitkeyid0001", 1);
  setenv("DHANBAK_TEST_B2_UNIT_KEY", "UnitSecretValue0123456789", 1);
  return config;
}

}  // namespace

TEST_CASE("b2 urls parse into bucket and prefix") {
  auto l = ParseB2Url("b2://dhanman-backups/postgresql/prod/");
  CHECK(l.bucket == "dhanman-backups");
  CHECK(l.prefix == "postgresql/prod");
  CHECK(ParseB2Url("b2://dhanman-backups").prefix.empty());
  CHECK(CodeOf([] { ParseB2Url("s3://bucket/x"); }) == ErrorCode::kConfig);
  CHECK(CodeOf([] { ParseB2Url("b2://ab/x"); }) == ErrorCode::kConfig);
  CHECK(CodeOf([] { ParseB2Url("b2://bad_bucket/x"); }) == ErrorCode::kConfig);
  CHECK(CodeOf([] { ParseB2Url("b2://bucket1/a//b"); }) == ErrorCode::kConfig);
}

TEST_CASE("b2 plain http is allowed only to loopback") {
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.200.3.4"));
  CHECK(IsLoopbackHost("::1"));
  CHECK(IsLoopbackHost("LocalHost"));
  CHECK_FALSE(IsLoopbackHost("128.0.0.1"));
  CHECK_FALSE(IsLoopbackHost("localhost.evil.com"));
  CHECK_FALSE(IsLoopbackHost("10.0.0.1"));
  CHECK(HostOf("http://[::1]:8080/b2api") == "::1");
  CHECK(HostOf("https://api.backblazeb2.com") == "api.backblazeb2.com");
  CheckTransportAllowed("https://api.backblazeb2.com");
  CheckTransportAllowed("http://127.0.0.1:9000");
  CheckTransportAllowed("http://[::1]:9000/x");
  CheckTransportAllowed("http://localhost:9000");
  CHECK(CodeOf([] { CheckTransportAllowed("http://api.backblazeb2.com"); }) == ErrorCode::kConfig);
  CHECK(CodeOf([] { CheckTransportAllowed("http://127.0.0.1.nip.io/"); }) == ErrorCode::kConfig);
  CHECK(CodeOf([] { CheckTransportAllowed("ftp://127.0.0.1/"); }) == ErrorCode::kConfig);
}

TEST_CASE("b2 authorize responses parse in v3 and v2 shapes") {
  auto v3 = ParseAuthorizeResponse(R"({
    "accountId": "acc1", "authorizationToken": "tok",
    "apiInfo": {"storageApi": {"apiUrl": "https://api001.example/", "downloadUrl": "https://f001.example",
      "recommendedPartSize": 100000000, "absoluteMinimumPartSize": 5000000,
      "bucketId": "b1", "bucketName": "bucket-one", "capabilities": ["listFiles"], "infoType": "storageApi"}},
    "applicationKeyExpirationTimestamp": null})");
  CHECK(v3.account_id == "acc1");
  CHECK(v3.api_url == "https://api001.example");
  CHECK(v3.download_url == "https://f001.example");
  CHECK(v3.allowed_bucket_name == "bucket-one");
  CHECK(v3.recommended_part_size == 100000000);
  auto v2 = ParseAuthorizeResponse(R"({
    "accountId": "acc2", "authorizationToken": "tok2", "apiUrl": "http://127.0.0.1:1",
    "downloadUrl": "http://127.0.0.1:1", "recommendedPartSize": 6000000, "absoluteMinimumPartSize": 5000000,
    "allowed": {"bucketId": null, "bucketName": null, "capabilities": []}})");
  CHECK(v2.account_id == "acc2");
  CHECK(v2.recommended_part_size == 6000000);
  CHECK(v2.allowed_bucket_id.empty());
  CHECK(CodeOf([] { ParseAuthorizeResponse("{}"); }) == ErrorCode::kPermanent);
}

TEST_CASE("OpenStorage dispatches on the scheme") {
  dhanbak::Config config;
  config.b2 = LiteralKeys("https://api.backblazeb2.com");
  auto b2 = dhanbak::storage::OpenStorage("b2://dhanman-backups/postgresql", config);
  CHECK(b2->Describe() == "b2://dhanman-backups/postgresql");
  CHECK(CodeOf([&] { dhanbak::storage::OpenStorage("s3://x/y", config); }) == ErrorCode::kConfig);
  CHECK(CodeOf([&] { dhanbak::storage::OpenStorage("file://relative", config); }) == ErrorCode::kConfig);
  config.b2.api_url = "http://api.backblazeb2.com";
  CHECK(CodeOf([&] { dhanbak::storage::OpenStorage("b2://dhanman-backups/x", config); }) == ErrorCode::kConfig);
}

TEST_CASE("b2 configuration errors never show the secrets") {
  dhanbak::B2Config config = LiteralKeys("http://example.com");
  try {
    dhanbak::storage::B2Storage storage("b2://dhanman-backups/x", config);
    FAIL("no throw");
  } catch (const Error& e) {
    std::string message = e.what();
    CHECK(message.find("UnitSecretValue0123456789") == std::string::npos);
    CHECK(message.find("unitkeyid0001") == std::string::npos);
  }
  config.api_url = "https://api.backblazeb2.com";
  config.application_key.spec = "env:DHANBAK_TEST_B2_UNIT_MISSING";
  unsetenv("DHANBAK_TEST_B2_UNIT_MISSING");
  CHECK(CodeOf([&] { dhanbak::storage::B2Storage("b2://dhanman-backups/x", config); }) == ErrorCode::kConfig);
}

}  // namespace b2_config_test
