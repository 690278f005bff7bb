// The storage conformance suite: every Storage backend must pass it (storage.hpp's contract).
//
//   RunStorageConformance([&] { return std::make_unique<MyStorage>(...); }, {.label = "mine"});
//
// Call it from a doctest TEST_CASE. Each step runs in its own namespace under a fresh random
// run prefix, so the suite can run repeatedly against one repository and List checks stay
// exact. Steps: round trip (empty, one byte, every byte value, multi-MB), ranged gets (random
// offsets, overlapping the end, past the end, missing), Stat/Get of missing objects, List by
// prefix over many objects in name order, idempotent Remove, odd key names, replacing Put,
// versions (ListVersions/GetVersion) and concurrent Put/Get from several threads. Failures name the backend label and the step.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dhanbak/error.hpp"
#include "dhanbak/storage/storage.hpp"

namespace dhanbak::test {

struct ConformanceOptions {
  std::string label = "storage";     // shown in failure messages
  size_t large_size = 5 * 1024 * 1024;  // the multi-MB round trip
  int list_count = 57;               // objects in the List test (B2 runs page this in small pages)
  int threads = 4;                   // concurrent Put/Get
  int objects_per_thread = 6;
  // Whether Get of a zero-length object is exercised. Only turned off for a known server gap
  // (see the callers); Put and Stat of the empty object are always checked.
  bool get_empty_objects = true;
  // Whether a Put of an existing name keeps the earlier bytes as an older version (B2) rather
  // than replacing the only version (a directory).
  bool keeps_versions = false;
};

using StorageFactory = std::function<std::unique_ptr<storage::Storage>()>;

namespace conformance_detail {

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

inline std::string RunPrefix() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string p = "conf-";
  for (int i = 0; i < 12; ++i) p.push_back(kHex[rd() % 16]);
  return p + "/";
}

// The ErrorCode an action throws, or nullopt if it returns normally.
inline std::optional<ErrorCode> ThrownCode(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return std::nullopt;
}

inline std::vector<storage::ObjectInfo> ListAll(storage::Storage& s, const std::string& prefix) {
  std::vector<storage::ObjectInfo> out;
  s.List(prefix, [&](const storage::ObjectInfo& info) { out.push_back(info); });
  return out;
}

struct ListedVersion {
  std::string name;
  storage::ObjectVersion version;
};

inline std::vector<ListedVersion> ListVersionsAll(storage::Storage& s, const std::string& prefix) {
  std::vector<ListedVersion> out;
  s.ListVersions(prefix, [&](const std::string& name, const storage::ObjectVersion& v) { out.push_back({name, v}); });
  return out;
}

// Runs one step; an unexpected exception fails the step with its message instead of aborting
// the whole suite.
inline void Step(const ConformanceOptions& options, const char* name, const std::function<void()>& fn) {
  const std::string context = "backend: " + options.label + ", step: " + name;
  INFO(context);
  try {
    fn();
  } catch (const std::exception& e) {
    const std::string message = "unexpected exception: " + std::string(e.what());
    FAIL_CHECK(message);
  }
}

}  // namespace conformance_detail

inline void RunStorageConformance(const StorageFactory& factory, const ConformanceOptions& options = {}) {
  using namespace conformance_detail;
  using storage::ByteRange;
  std::unique_ptr<storage::Storage> store = factory();
  REQUIRE(store != nullptr);
  storage::Storage& s = *store;
  const std::string run = RunPrefix();

  Step(options, "round trip", [&] {
    std::string all_bytes;
    for (int rep = 0; rep < 3; ++rep) {
      for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
    }
    const std::vector<std::pair<std::string, std::string>> objects = {
        {"rt/empty", ""},
        {"rt/one", "x"},
        {"rt/small.txt", "hello, dhanbak\n"},
        {"rt/all-bytes.bin", all_bytes},
        {"rt/nul-heavy.bin", std::string(4097, '\0')},
        {"rt/large.bin", RandomBytes(options.large_size, 42)},
    };
    for (const auto& [name, data] : objects) {
      const std::string& object = name;  // doctest's CAPTURE takes a lambda capture: not a binding (clang 14)
      CAPTURE(object);
      s.Put(run + name, data);
      if (!data.empty() || options.get_empty_objects) {
        std::string back = s.Get(run + name);
        CHECK(back.size() == data.size());
        CHECK(back == data);
      }
      auto info = s.Stat(run + name);
      REQUIRE(info.has_value());
      CHECK(info->size == data.size());
      CHECK(info->name == run + name);
    }
  });

  Step(options, "ranged get", [&] {
    const std::string name = run + "range/obj.bin";
    const std::string data = RandomBytes(100'003, 7);
    s.Put(name, data);
    std::mt19937_64 rng(99);
    for (int i = 0; i < 12; ++i) {
      uint64_t offset = rng() % data.size();
      uint64_t length = 1 + rng() % 20'000;
      CAPTURE(offset);
      CAPTURE(length);
      std::string expected = data.substr(offset, length);  // clipped at the end, as specified
      CHECK(s.Get(name, ByteRange{offset, length}) == expected);
    }
    CHECK(s.Get(name, ByteRange{0, data.size()}) == data);
    CHECK(s.Get(name, ByteRange{0, 1}) == data.substr(0, 1));
    CHECK(s.Get(name, ByteRange{data.size() - 1, 1}) == data.substr(data.size() - 1));
    // Overlapping the end: clipped.
    CHECK(s.Get(name, ByteRange{data.size() - 10, 1000}) == data.substr(data.size() - 10));
    // Starting at or past the end: kInvalidArgument.
    CHECK(ThrownCode([&] { s.Get(name, ByteRange{data.size(), 10}); }) == ErrorCode::kInvalidArgument);
    CHECK(ThrownCode([&] { s.Get(name, ByteRange{data.size() + 1000, 10}); }) == ErrorCode::kInvalidArgument);
    CHECK(ThrownCode([&] { s.Get(run + "range/missing", ByteRange{0, 10}); }) == ErrorCode::kNotFound);
  });

  Step(options, "missing objects", [&] {
    CHECK_FALSE(s.Stat(run + "missing/none").has_value());
    CHECK(ThrownCode([&] { s.Get(run + "missing/none"); }) == ErrorCode::kNotFound);
    // A name that is a prefix of an existing one is still missing.
    s.Put(run + "missing/abc", "x");
    CHECK_FALSE(s.Stat(run + "missing/ab").has_value());
    CHECK(ThrownCode([&] { s.Get(run + "missing/ab"); }) == ErrorCode::kNotFound);
  });

  Step(options, "list by prefix", [&] {
    std::vector<std::string> expected;
    for (int i = 0; i < options.list_count; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "list/a/%04d", (i * 37) % options.list_count);
      s.Put(run + name, std::string(static_cast<size_t>(i % 5), 'q'));
      expected.push_back(run + name);
    }
    s.Put(run + "list/ab", "sibling");
    s.Put(run + "list/b/other", "other");
    std::sort(expected.begin(), expected.end());

    auto listed = ListAll(s, run + "list/a/");
    std::vector<std::string> names;
    for (const auto& info : listed) names.push_back(info.name);
    CHECK(names == expected);  // exactly once each, in name order
    for (const auto& info : listed) {
      int index = std::stoi(info.name.substr(info.name.size() - 4));
      int i = 0;
      while ((i * 37) % options.list_count != index) ++i;
      CHECK(info.size == static_cast<uint64_t>(i % 5));
    }
    auto with_sibling = ListAll(s, run + "list/a");
    REQUIRE(with_sibling.size() == expected.size() + 1);
    CHECK(with_sibling.back().name == run + "list/ab");
    CHECK(ListAll(s, run + "list/").size() == expected.size() + 2);
    CHECK(ListAll(s, run + "list/zzz").empty());
    CHECK(ListAll(s, run + "nothing-here/").empty());
  });

  Step(options, "remove is idempotent", [&] {
    const std::string name = run + "rm/obj";
    s.Put(name, "to be removed");
    s.Remove(name);
    CHECK_FALSE(s.Stat(name).has_value());
    CHECK(ThrownCode([&] { s.Get(name); }) == ErrorCode::kNotFound);
    CHECK(ListAll(s, run + "rm/").empty());
    s.Remove(name);
    s.Remove(run + "rm/never-existed");
    // Put after Remove brings the name back.
    s.Put(name, "again");
    CHECK(s.Get(name) == "again");
    s.Remove(name);
    CHECK_FALSE(s.Stat(name).has_value());
  });

  Step(options, "odd names", [&] {
    const std::vector<std::string> odd = {
        "odd/with space",       "odd/plus+sign",          "odd/percent%20literal",
        "odd/\xc3\xbcnic\xc3\xb8" "de-\xe6\x97\xa5\xe6\x9c\xac", "odd/sym~!$'()*;=:@,",
        "odd/quote\"hash#amp&q?", "odd/brackets[]{}<>^`|", "odd/dots..x.", "odd/emoji-\xf0\x9f\x98\x82",
    };
    for (const auto& name : odd) {
      CAPTURE(name);
      s.Put(run + name, "content of " + name);
      CHECK(s.Get(run + name) == "content of " + name);
      auto info = s.Stat(run + name);
      REQUIRE(info.has_value());
      CHECK(info->size == ("content of " + name).size());
    }
    auto listed = ListAll(s, run + "odd/");
    std::vector<std::string> names;
    for (const auto& info : listed) names.push_back(info.name);
    std::vector<std::string> expected;
    for (const auto& name : odd) expected.push_back(run + name);
    std::sort(expected.begin(), expected.end());
    CHECK(names == expected);
    for (const auto& name : odd) {
      s.Remove(run + name);
      CHECK_FALSE(s.Stat(run + name).has_value());
    }
  });

  Step(options, "replacing put", [&] {
    const std::string name = run + "replace/obj";
    s.Put(name, "first version, longer");
    s.Put(name, "second");
    CHECK(s.Get(name) == "second");
    CHECK(s.Stat(name)->size == 6);
    CHECK(ListAll(s, run + "replace/").size() == 1);
    s.Remove(name);
    CHECK_FALSE(s.Stat(name).has_value());
    CHECK(ThrownCode([&] { s.Get(name); }) == ErrorCode::kNotFound);
  });

  Step(options, "versions", [&] {
    const std::string a = run + "ver/a";
    const std::string b = run + "ver/b";
    s.Put(a, "first of a");
    s.Put(b, "only b");
    s.Put(a, "second of a, longer");
    s.Put(run + "verx", "a sibling outside the prefix");
    auto listed = ListVersionsAll(s, run + "ver/");
    std::vector<std::string> names;
    for (const auto& l : listed) {
      names.push_back(l.name);
      CHECK_FALSE(l.version.hide_marker);
      CHECK_FALSE(l.version.id.empty());
    }
    const std::vector<std::string> expected =
        options.keeps_versions ? std::vector<std::string>{a, a, b} : std::vector<std::string>{a, b};
    REQUIRE(names == expected);
    // Newest first: the version Get returns leads.
    CHECK(listed[0].version.size == std::string("second of a, longer").size());
    CHECK(s.GetVersion(a, listed[0].version.id) == "second of a, longer");
    CHECK(s.GetVersion(b, listed.back().version.id) == "only b");
    CHECK(listed.back().version.size == 6);
    CHECK(ThrownCode([&] { s.GetVersion(b, "no-such-version"); }) == ErrorCode::kNotFound);
    if (options.keeps_versions) {
      CHECK(s.GetVersion(a, listed[1].version.id) == "first of a");
      CHECK(listed[1].version.size == std::string("first of a").size());
      CHECK(listed[0].version.id != listed[1].version.id);
      // A version id belongs to one name.
      CHECK(ThrownCode([&] { s.GetVersion(b, listed[0].version.id); }) == ErrorCode::kNotFound);
      // Many versions of one name, listed across pages.
      const std::string many = run + "ver/many";
      for (int i = 0; i < 9; ++i) s.Put(many, "v" + std::to_string(i));
      auto versions = ListVersionsAll(s, many);
      REQUIRE(versions.size() == 9);
      for (int i = 0; i < 9; ++i) {
        CHECK(versions[static_cast<size_t>(i)].name == many);
        CHECK(s.GetVersion(many, versions[static_cast<size_t>(i)].version.id) == "v" + std::to_string(8 - i));
      }
      s.Remove(many);
    }
    CHECK(ListVersionsAll(s, run + "ver/zzz").empty());
    // Remove takes every version.
    const std::string old_id = listed[0].version.id;
    s.Remove(a);
    auto left = ListVersionsAll(s, run + "ver/");
    REQUIRE(left.size() == 1);
    CHECK(left[0].name == b);
    CHECK(ThrownCode([&] { s.GetVersion(a, old_id); }) == ErrorCode::kNotFound);
    s.Remove(b);
    s.Remove(run + "verx");
    CHECK(ListVersionsAll(s, run + "ver").empty());
  });

  Step(options, "concurrent puts and gets", [&] {
    const std::string shared = run + "conc/shared";
    const std::string shared_data = RandomBytes(300'000, 5);
    s.Put(shared, shared_data);
    std::atomic<int> mismatches{0};
    std::vector<std::string> failures(static_cast<size_t>(options.threads));
    std::vector<std::thread> threads;
    for (int t = 0; t < options.threads; ++t) {
      threads.emplace_back([&, t] {
        try {
          for (int i = 0; i < options.objects_per_thread; ++i) {
            std::string name = run + "conc/t" + std::to_string(t) + "/" + std::to_string(i);
            std::string data = RandomBytes(10'000 + static_cast<size_t>(t * 1000 + i * 17), static_cast<uint64_t>(t * 100 + i));
            s.Put(name, data);
            if (s.Get(name) != data) ++mismatches;
            if (s.Get(shared) != shared_data) ++mismatches;
          }
        } catch (const std::exception& e) {
          failures[static_cast<size_t>(t)] = e.what();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& f : failures) CHECK_MESSAGE(f.empty(), f);
    CHECK(mismatches.load() == 0);
    CHECK(ListAll(s, run + "conc/t").size() == static_cast<size_t>(options.threads * options.objects_per_thread));
  });
}

}  // namespace dhanbak::test
