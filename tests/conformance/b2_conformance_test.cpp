// B2Storage against dhanbak-b2-emulator: the shared suite (with small list pages and a small
// large-file part size so paging and the large-file API are exercised), large-file resume,
// single-flight re-authorization, Object Lock, and versions: hidden names and older versions
// are listed by ListVersions and read by GetVersion.
#include <doctest/doctest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "support/error_code.hpp"
#include "conformance/emulator_fixture.hpp"
#include "conformance/storage_suite.hpp"
#include "storage/b2/b2_storage.hpp"
#include "dhanbak/storage/storage.hpp"

namespace b2_conformance_test {  // this file's names, apart from its unity batch's

using dhanbak::test::EmulatorProcess;
using dhanbak::test::EmulatorSetup;
using dhanbak::test::kEmulatorServesEmptyBodies;
using dhanbak::test::MakeB2Config;

using dhanbak::test::CodeOf;

namespace {

const std::string kRepoUrl = std::string("b2://") + dhanbak::test::kEmuBucket + "/repo";

dhanbak::storage::B2Options SmallOptions() {
  dhanbak::storage::B2Options options;
  options.list_page_size = 7;
  options.part_size = 5'000'000;  // the emulator's (and B2's) absolute minimum
  options.initial_backoff = std::chrono::milliseconds(20);
  options.max_backoff = std::chrono::milliseconds(500);
  return options;
}

uint64_t Count(const nlohmann::json& stats, const std::string& api) {
  return stats["by_api"].value(api, uint64_t{0});
}

}  // namespace

TEST_CASE("conformance: b2 via the emulator") {
  EmulatorProcess emulator;
  dhanbak::storage::B2Storage* b2 = nullptr;
  dhanbak::test::RunStorageConformance(
      [&] {
        auto storage = std::make_unique<dhanbak::storage::B2Storage>(kRepoUrl, MakeB2Config(emulator), SmallOptions());
        b2 = storage.get();
        return storage;
      },
      {.label = "b2",
       .large_size = 12 * 1000 * 1000 + 17,
       .get_empty_objects = kEmulatorServesEmptyBodies,
       .keeps_versions = true});
  auto stats = emulator.Stats();
  CHECK(Count(stats, "b2_authorize_account") == 1);  // the token is cached
  CHECK(Count(stats, "b2_finish_large_file") >= 1);  // the multi-MB object went up in parts
  CHECK(Count(stats, "b2_list_file_names") > 57 / 7);  // List paged
  // One upload URL per thread, reused: far fewer URL fetches than uploads.
  CHECK(Count(stats, "b2_get_upload_url") < Count(stats, "b2_upload_file"));
  (void)b2;
}

TEST_CASE("b2: a large-file upload that failed resumes its parts") {
  EmulatorProcess emulator({.extra_args = {"--fault", "kind=status,status=400,code=bad_request,api=b2_finish_large_file,count=1"}});
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator), SmallOptions());
  std::string data(11'000'000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 9));
  CHECK_THROWS_AS(storage.Put("big/object", data), dhanbak::Error);
  CHECK_FALSE(storage.Stat("big/object").has_value());  // nothing half-written is visible
  auto before = emulator.Stats();
  CHECK(Count(before, "b2_upload_part") == 3);
  storage.Put("big/object", data);
  auto after = emulator.Stats();
  CHECK(Count(after, "b2_start_large_file") == 1);  // resumed, not restarted
  CHECK(Count(after, "b2_upload_part") == 3);       // no part sent twice
  CHECK(storage.Get("big/object") == data);
  storage.Remove("big/object");
  CHECK_FALSE(storage.Stat("big/object").has_value());
}

TEST_CASE("b2: many threads share one re-authorization") {
  // The first list call expires the account token; every thread then gets 401 at about the
  // same time, and exactly one b2_authorize_account must follow.
  EmulatorProcess emulator({.extra_args = {"--fault", "kind=expire_token,api=b2_list_file_names,nth=2"}});
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator), SmallOptions());
  CHECK_FALSE(storage.Stat("warm-up").has_value());
  CHECK(storage.authorizations() == 1);
  constexpr int kThreads = 8;
  std::barrier start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      try {
        for (int i = 0; i < 3; ++i) storage.Stat("missing-" + std::to_string(i));
      } catch (...) {
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  CHECK(storage.authorizations() == 2);
  CHECK(Count(emulator.Stats(), "b2_authorize_account") == 2);
}

TEST_CASE("b2: object lock keeps objects that prune tries to remove") {
  EmulatorProcess emulator({.buckets = {std::string(dhanbak::test::kEmuBucket) + ":object-lock"}, .extra_args = {}});
  auto config = MakeB2Config(emulator);
  config.object_lock_days = 1;
  dhanbak::storage::B2Storage storage(kRepoUrl, config, SmallOptions());
  storage.Put("locked/chunk", "precious");
  try {
    storage.Remove("locked/chunk");
    FAIL("remove of a locked object succeeded");
  } catch (const dhanbak::storage::ObjectLockedError& e) {
    CHECK(e.code() == dhanbak::ErrorCode::kPermanent);
    CHECK(e.name() == "locked/chunk");
    CHECK(e.retain_until_ms() > 0);
  }
  CHECK(storage.Get("locked/chunk") == "precious");
}

TEST_CASE("b2: bandwidth caps hold across threads") {
  EmulatorProcess emulator;
  auto config = MakeB2Config(emulator);
  config.max_upload_rate = 2'000'000;
  config.max_download_rate = 2'000'000;
  dhanbak::storage::B2Storage storage(kRepoUrl, config, SmallOptions());
  const std::string data(1'500'000, 'r');
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] { storage.Put("rate/" + std::to_string(t), data); });
  }
  for (auto& th : threads) th.join();
  double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // 4.5 MB at 2 MB/s shared (one second of burst allowed): at least ~1.2 s in total.
  CHECK(up > 1.2);
  start = std::chrono::steady_clock::now();
  for (int t = 0; t < 3; ++t) CHECK(storage.Get("rate/" + std::to_string(t)) == data);
  double down = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(down > 1.2);
  MESSAGE("4.5 MB up in ", up, " s, down in ", down, " s at a 2 MB/s cap");
}

namespace {

struct Listed {
  std::string name;
  dhanbak::storage::ObjectVersion version;
};

std::vector<Listed> Versions(dhanbak::storage::Storage& storage, const std::string& prefix) {
  std::vector<Listed> out;
  storage.ListVersions(prefix, [&](const std::string& name, const dhanbak::storage::ObjectVersion& v) {
    out.push_back({name, v});
  });
  return out;
}

}  // namespace

TEST_CASE("b2: hidden names and older versions are listed by ListVersions and read by GetVersion") {
  EmulatorProcess emulator;
  dhanbak::storage::B2Storage storage(kRepoUrl, MakeB2Config(emulator), SmallOptions());
  storage.Put("v/obj", "one");
  storage.Put("v/obj", "two");
  storage.Put("v/obj", "three");
  storage.Put("v/secret", "hidden bytes");
  const std::string bucket_id = emulator.BucketId();
  // A key with writeFiles hides a name (reference §7): it vanishes from Get, Stat and List.
  nlohmann::json marker = emulator.CallB2("b2_hide_file", {{"bucketId", bucket_id}, {"fileName", "repo/v/secret"}});
  CHECK_FALSE(storage.Stat("v/secret").has_value());
  CHECK(CodeOf([&] { storage.Get("v/secret"); }) == dhanbak::ErrorCode::kNotFound);
  std::vector<std::string> visible;
  storage.List("v/", [&](const dhanbak::storage::ObjectInfo& o) { visible.push_back(o.name); });
  CHECK(visible == std::vector<std::string>{"v/obj"});
  // An unfinished large file of the same name is no version of it.
  emulator.CallB2("b2_start_large_file", {{"bucketId", bucket_id}, {"fileName", "repo/v/obj"},
                                          {"contentType", "application/octet-stream"}});

  auto versions = Versions(storage, "v/");  // small pages: the listing resumes by name and file id
  REQUIRE(versions.size() == 5);
  CHECK(versions[0].name == "v/obj");
  CHECK(storage.GetVersion("v/obj", versions[0].version.id) == "three");
  CHECK(storage.GetVersion("v/obj", versions[1].version.id) == "two");
  CHECK(storage.GetVersion("v/obj", versions[2].version.id) == "one");
  for (size_t i = 0; i < 3; ++i) CHECK_FALSE(versions[i].version.hide_marker);
  CHECK(versions[3].name == "v/secret");
  CHECK(versions[3].version.hide_marker);  // newest first: the marker, then what it hides
  CHECK(versions[3].version.id == marker.at("fileId").get<std::string>());
  CHECK(versions[3].version.size == 0);
  CHECK(versions[4].name == "v/secret");
  CHECK_FALSE(versions[4].version.hide_marker);
  CHECK(versions[4].version.size == std::string("hidden bytes").size());
  CHECK(versions[4].version.modified_unix > 0);
  // The hidden version is still downloadable by id; the marker has no bytes.
  CHECK(storage.GetVersion("v/secret", versions[4].version.id) == "hidden bytes");
  CHECK(CodeOf([&] { storage.GetVersion("v/secret", versions[3].version.id); }) == dhanbak::ErrorCode::kNotFound);
  CHECK(CodeOf([&] { storage.GetVersion("v/obj", versions[4].version.id); }) == dhanbak::ErrorCode::kNotFound);

  // Uploading the name again un-hides it; Remove deletes markers too.
  storage.Put("v/secret", "stored again");
  CHECK(storage.Get("v/secret") == "stored again");
  CHECK(Versions(storage, "v/secret").size() == 3);
  storage.Remove("v/secret");
  CHECK(Versions(storage, "v/secret").empty());
}

}  // namespace b2_conformance_test
