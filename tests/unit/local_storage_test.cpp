// LocalStorage (src/storage/local/local_storage.hpp) beyond the shared conformance suite: the
// atomic-write scheme never shows a temp file, stale temp files of a crashed run stay invisible,
// and names that would escape the repository directory are refused.
#include "common/temp_dir.hpp"
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dhanbak/error.hpp"
#include "storage/local/local_storage.hpp"

namespace local_storage_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::storage::ByteRange;
using dhanbak::storage::LocalStorage;
using dhanbak::storage::ObjectInfo;
using dhanbak::storage::Storage;
namespace fs = std::filesystem;

namespace {

// A private temporary directory removed with its contents.
using ScratchDir = dhanbak::TempDir;

template <typename Fn>
ErrorCode CodeOf(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

std::vector<std::string> Names(Storage& s, const std::string& prefix) {
  std::vector<std::string> names;
  s.List(prefix, [&](const ObjectInfo& o) { names.push_back(o.name); });
  return names;
}

// Every file under `dir`, relative, including hidden ones.
std::vector<std::string> FilesOnDisk(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("local storage: put, get, ranges, stat, list, remove") {
  ScratchDir dir;
  LocalStorage local(dir.path());
  Storage& s = local;  // Get\'s default range argument lives on the interface
  CHECK(s.Describe() == "file://" + dir.path());
  s.Put("chunks/ab/ab01", "hello world");
  s.Put("chunks/cd/cd02", "");
  s.Put("manifests/m1", "m");
  CHECK(s.Get("chunks/ab/ab01") == "hello world");
  CHECK(s.Get("chunks/ab/ab01", ByteRange{6, 5}) == "world");
  CHECK(s.Get("chunks/ab/ab01", ByteRange{6, 100}) == "world");  // clipped at the end
  CHECK(CodeOf([&] { s.Get("chunks/ab/ab01", ByteRange{11, 1}); }) == ErrorCode::kInvalidArgument);
  CHECK(s.Get("chunks/cd/cd02").empty());
  CHECK(CodeOf([&] { s.Get("chunks/ef/missing"); }) == ErrorCode::kNotFound);
  auto st = s.Stat("chunks/ab/ab01");
  REQUIRE(st.has_value());
  CHECK(st->size == 11);
  CHECK_FALSE(s.Stat("chunks/ab/missing").has_value());
  CHECK_FALSE(s.Stat("chunks").has_value());  // a directory is not an object
  CHECK(Names(s, "chunks/") == std::vector<std::string>{"chunks/ab/ab01", "chunks/cd/cd02"});
  CHECK(Names(s, "chunks/a") == std::vector<std::string>{"chunks/ab/ab01"});
  CHECK(Names(s, "") == std::vector<std::string>{"chunks/ab/ab01", "chunks/cd/cd02", "manifests/m1"});
  CHECK(Names(s, "nothing/").empty());
  s.Put("chunks/ab/ab01", "replaced");
  CHECK(s.Get("chunks/ab/ab01") == "replaced");
  s.Remove("chunks/ab/ab01");
  s.Remove("chunks/ab/ab01");  // removing a missing object succeeds
  CHECK_FALSE(s.Stat("chunks/ab/ab01").has_value());
}

TEST_CASE("local storage: a put leaves no temp file behind and writes 0600 files") {
  ScratchDir dir;
  LocalStorage local(dir.path());
  Storage& s = local;  // Get\'s default range argument lives on the interface
  for (int i = 0; i < 20; ++i) s.Put("chunks/00/obj" + std::to_string(i), std::string(10000 + i, 'x'));
  auto files = FilesOnDisk(dir.path());
  CHECK(files.size() == 20);
  for (const auto& f : files) {
    CAPTURE(f);
    CHECK(f.find(".tmp-") == std::string::npos);
    auto perms = fs::status(dir.path() + "/" + f).permissions();
    CHECK((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  }
}

TEST_CASE("local storage: stale temp files of a crashed writer are invisible") {
  ScratchDir dir;
  LocalStorage local(dir.path());
  Storage& s = local;  // Get\'s default range argument lives on the interface
  s.Put("chunks/ab/real", "real");
  // What a crash between create and rename leaves behind.
  std::ofstream(dir.path() + "/chunks/ab/.tmp-0123456789abcdef") << "partial";
  std::ofstream(dir.path() + "/.tmp-fedcba9876543210") << "partial";
  fs::create_directories(dir.path() + "/manifests");
  std::ofstream(dir.path() + "/manifests/.tmp-00") << "{";
  CHECK(Names(s, "") == std::vector<std::string>{"chunks/ab/real"});
  CHECK(Names(s, "chunks/ab/") == std::vector<std::string>{"chunks/ab/real"});
  CHECK(Names(s, "manifests/").empty());
  // Temp names are not object names: they can be neither read nor stat'ed as objects.
  CHECK(CodeOf([&] { s.Stat("chunks/ab/.tmp-0123456789abcdef"); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { s.Get("manifests/.tmp-00"); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { s.Put(".tmp-x", "y"); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("local storage: names that could escape the root or are malformed are refused") {
  ScratchDir dir;
  fs::create_directories(dir.path() + "/repo");
  LocalStorage local(dir.path() + "/repo");
  Storage& s = local;  // Get\'s default range argument lives on the interface
  for (const std::string name : {"", "/etc/passwd", "../outside", "a/../../outside", "a/./b", ".", "..", "a//b",
                                 "a/", "chunks/../x"}) {
    CAPTURE(name);
    CHECK(CodeOf([&] { s.Put(name, "x"); }) == ErrorCode::kInvalidArgument);
    CHECK(CodeOf([&] { s.Get(name); }) == ErrorCode::kInvalidArgument);
    CHECK(CodeOf([&] { s.Stat(name); }) == ErrorCode::kInvalidArgument);
    CHECK(CodeOf([&] { s.Remove(name); }) == ErrorCode::kInvalidArgument);
  }
  CHECK(CodeOf([&] { s.Put(std::string("a\0b", 3), "x"); }) == ErrorCode::kInvalidArgument);
  // Nothing was written outside the repository directory.
  CHECK_FALSE(fs::exists(dir.path() + "/outside"));
  CHECK(FilesOnDisk(dir.path()).empty());
}

TEST_CASE("local storage: file-system failures are kIo naming the path") {
  ScratchDir dir;
  LocalStorage local(dir.path());
  Storage& s = local;  // Get\'s default range argument lives on the interface
  s.Put("blocker", "a file where a directory is needed");
  try {
    s.Put("blocker/child", "x");
    FAIL("put under a regular file succeeded");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kIo);
    CHECK(std::string(e.what()).find(dir.path()) != std::string::npos);
  }
  // Stat through a regular file is "no such object", not an error.
  CHECK_FALSE(s.Stat("blocker/child").has_value());
  // A disk-full failure (ENOSPC) would need a size-limited file system (a tmpfs mount); the
  // message's "(the disk is full)" hint is not exercised here.
}

}  // namespace local_storage_test
