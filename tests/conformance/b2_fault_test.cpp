// B2Storage under injected faults. Transient faults (503s, 429 with Retry-After, expiring
// tokens, dropped connections, corrupted downloads) must be invisible: the whole conformance
// suite passes with identical bytes. Permanent faults (service gone, cap exceeded, a key
// without deleteFiles, a wrong key) must end quickly in a clear error, leave nothing
// half-written, and never show a credential.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "conformance/emulator_fixture.hpp"
#include "conformance/storage_suite.hpp"
#include "dhanbak/error.hpp"
#include "storage/b2/b2_storage.hpp"

namespace b2_fault_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::test::EmulatorProcess;
using dhanbak::test::MakeB2Config;

namespace {

const std::string kRepoUrl = std::string("b2://") + dhanbak::test::kEmuBucket + "/repo";
constexpr const char* kAppendKeyId = "0012appendonlykey";
constexpr const char* kAppendKey = "K001AppendOnlySecretNeverShown";

dhanbak::storage::B2Options FastRetries(std::chrono::milliseconds budget) {
  dhanbak::storage::B2Options options;
  options.list_page_size = 7;
  options.part_size = 5'000'000;
  options.initial_backoff = std::chrono::milliseconds(20);
  options.max_backoff = std::chrono::milliseconds(400);
  options.retry_max_time = budget;
  return options;
}

// Every message thrown in this file goes through here, so the credential check sees them all.
std::vector<std::string>& Messages() {
  static std::vector<std::string> messages;
  return messages;
}

struct Caught {
  ErrorCode code = ErrorCode::kInternal;
  bool retryable = false;
  std::string message;
  double seconds = 0;
  bool thrown = false;
};

Caught Catch(const std::function<void()>& fn) {
  Caught c;
  auto start = std::chrono::steady_clock::now();
  try {
    fn();
  } catch (const Error& e) {
    c = {e.code(), e.retryable(), e.what(), 0, true};
    Messages().push_back(e.what());
  }
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return c;
}

uint64_t Sum(const nlohmann::json& object) {
  uint64_t total = 0;
  for (const auto& [key, value] : object.items()) total += value.get<uint64_t>();
  return total;
}

}  // namespace

TEST_CASE("conformance: b2 under transient faults") {
  EmulatorProcess emulator({.extra_args = {
                                "--fault", "kind=status,status=503,percent=10,seed=11",
                                "--fault", "kind=status,status=429,retry_after=1,percent=1,seed=12",
                                "--fault", "kind=status,status=500,api=upload,percent=5,seed=13",
                                "--fault", "kind=status,status=408,percent=1,seed=14",
                                "--fault", "kind=drop,api=upload+download,percent=4,seed=15",
                                "--fault", "kind=corrupt,api=download,percent=8,seed=16",
                                "--token-expire-requests", "25",
                            }});
  auto options = FastRetries(std::chrono::seconds(120));
  options.verify_ranged_gets = true;  // ranged bytes can only be checked via the whole object
  auto start = std::chrono::steady_clock::now();
  dhanbak::test::RunStorageConformance(
      [&] { return std::make_unique<dhanbak::storage::B2Storage>(kRepoUrl, MakeB2Config(emulator), options); },
      {.label = "b2+faults",
       .large_size = 11 * 1000 * 1000,
       .get_empty_objects = dhanbak::test::kEmulatorServesEmptyBodies,
       .keeps_versions = true});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto stats = emulator.Stats();
  uint64_t faults = Sum(stats["faults"]);
  MESSAGE("b2 suite under faults: ", stats["requests"].get<uint64_t>(), " requests, ", faults,
          " injected faults (", stats["faults"].dump(), "), ", stats["by_api"].value("b2_authorize_account", 0),
          " authorizations, ", seconds, " s");
  CHECK(faults > 20);
  CHECK(stats["faults"].value("corrupt", 0) > 0);
  CHECK(stats["by_api"].value("b2_authorize_account", 0) > 1);
}

TEST_CASE("b2: a stalled download is abandoned and retried, never left hanging") {
  // The first download answers nothing for 4 s; with a 1 s stall timeout the client gives up
  // on it after about a second and the retry succeeds.
  EmulatorProcess emulator({.keys = {std::string(dhanbak::test::kEmuKeyId) + ":" + dhanbak::test::kEmuKey},
                            .buckets = {dhanbak::test::kEmuBucket},
                            .extra_args = {"--fault", "kind=delay,delay_ms=4000,api=download,count=1"}});
  auto config = MakeB2Config(emulator);
  config.stall_timeout = std::chrono::seconds(1);
  dhanbak::storage::B2Storage storage(kRepoUrl, config, FastRetries(std::chrono::seconds(30)));
  storage.Put("stall/object", "patience");
  auto start = std::chrono::steady_clock::now();
  CHECK(storage.Get("stall/object") == "patience");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(3500));
}

TEST_CASE("b2: a stopped service fails in bounded time with a retryable error") {
  EmulatorProcess emulator;
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator), FastRetries(std::chrono::seconds(2)));
  storage.Put("before/outage", "x");
  emulator.Stop();
  for (auto* op : {"put", "get", "stat", "list", "remove"}) {
    CAPTURE(op);
    Caught c = Catch([&] {
      std::string what = op;
      if (what == "put") storage.Put("during/outage", "y");
      if (what == "get") storage.Get("before/outage");
      if (what == "stat") storage.Stat("before/outage");
      if (what == "list") storage.List("", [](const auto&) {});
      if (what == "remove") storage.Remove("before/outage");
    });
    CHECK(c.thrown);
    CHECK(c.retryable);
    CHECK(c.code == ErrorCode::kNetwork);
    CHECK(c.seconds < 5.0);
    CHECK(c.message.find("gave up after") != std::string::npos);
  }
}

TEST_CASE("b2: a full bucket is a permanent error and leaves nothing behind") {
  EmulatorProcess emulator({.extra_args = {"--fault", "kind=cap_exceeded"}});
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator), FastRetries(std::chrono::seconds(30)));
  Caught c = Catch([&] { storage.Put("full/object", "data"); });
  CHECK(c.thrown);
  CHECK_FALSE(c.retryable);
  CHECK(c.code == ErrorCode::kPermanent);
  CHECK(c.seconds < 2.0);
  CHECK(c.message.find("cap_exceeded") != std::string::npos);
  CHECK_FALSE(storage.Stat("full/object").has_value());
}

TEST_CASE("b2: an append-only key cannot delete, and says so") {
  EmulatorProcess emulator({.keys = {std::string(dhanbak::test::kEmuKeyId) + ":" + dhanbak::test::kEmuKey,
                                     std::string(kAppendKeyId) + ":" + kAppendKey +
                                         ":listBuckets,listFiles,readFiles,writeFiles"},
                            .buckets = {dhanbak::test::kEmuBucket},
                            .extra_args = {}});
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator, kAppendKeyId, kAppendKey),
                                      FastRetries(std::chrono::seconds(30)));
  storage.Put("append/object", "kept");
  Caught c = Catch([&] { storage.Remove("append/object"); });
  CHECK(c.thrown);
  CHECK_FALSE(c.retryable);
  CHECK(c.code == ErrorCode::kAuth);
  CHECK(c.seconds < 2.0);
  CHECK(storage.Get("append/object") == "kept");
}

TEST_CASE("b2: a wrong key is an auth error") {
  EmulatorProcess emulator;
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator, dhanbak::test::kEmuKeyId, "K001WrongSecretValue"),
                                      FastRetries(std::chrono::seconds(30)));
  Caught c = Catch([&] { storage.Stat("x"); });
  CHECK(c.thrown);
  CHECK(c.code == ErrorCode::kAuth);
  CHECK_FALSE(c.retryable);
}

TEST_CASE("b2: no thrown message shows a credential") {
  // Runs last in this file (doctest keeps file order) and checks every message caught above,
  // plus its own refused-key and config errors so it also works when run alone.
  {
    EmulatorProcess emulator;
    dhanbak::storage::B2Storage wrong(kRepoUrl, MakeB2Config(emulator, kAppendKeyId, kAppendKey),
                                      FastRetries(std::chrono::seconds(5)));
    Catch([&] { wrong.Put("x", "y"); });
    auto config = MakeB2Config(emulator);
    config.api_url = "http://b2.example.com";
    Catch([&] { dhanbak::storage::B2Storage bad(kRepoUrl, config); });
  }
  REQUIRE(Messages().size() >= 2);
  for (const auto& message : Messages()) {
    CAPTURE(message);
    for (const char* secret : {dhanbak::test::kEmuKey, dhanbak::test::kEmuKeyId, kAppendKey, kAppendKeyId,
                               "K001WrongSecretValue"}) {
      CHECK(message.find(secret) == std::string::npos);
    }
  }
}

}  // namespace b2_fault_test
