// The WAL archive's names and rules (src/wal/): file names PostgreSQL archives, the object names
// they are stored under, the page header that identifies a cluster, and WalArchive's push and
// fetch rules on storage that keeps versions (VersionedMemoryStorage stands in for B2; the real
// server runs them in tests/integration/wal_archive_test.cpp).
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "dhanbak/error.hpp"
#include "format/repository.hpp"
#include "support/error_code.hpp"
#include "support/versioned_memory_storage.hpp"
#include "wal/wal_archive.hpp"
#include "wal/wal_file.hpp"

namespace wal_archive_unit_test {  // this file's names, apart from its unity batch's

using dhanbak::ErrorCode;
using dhanbak::format::KdfParams;
using dhanbak::format::Repository;
using dhanbak::test::CodeOf;
using dhanbak::test::VersionedMemoryStorage;
using dhanbak::wal::ParseWalObjectName;
using dhanbak::wal::ReadPageIdentity;
using dhanbak::wal::WalArchive;
using dhanbak::wal::WalFile;
using dhanbak::wal::WalFileKind;

namespace {

const KdfParams kTinyKdf{1u << 10, 8, 1};

// A segment-sized buffer starting with a long page header of cluster `sysid`.
std::string Segment(uint64_t sysid, char fill, size_t size = 64 * 1024) {
  std::string s(size, fill);
  uint16_t magic = 0xD110, info = 0x0002;
  uint32_t tli = 1, seg_size = 16u << 20, blcksz = 8192;
  std::memcpy(s.data(), &magic, 2);
  std::memcpy(s.data() + 2, &info, 2);
  std::memcpy(s.data() + 4, &tli, 4);
  std::memcpy(s.data() + 24, &sysid, 8);
  std::memcpy(s.data() + 32, &seg_size, 4);
  std::memcpy(s.data() + 36, &blcksz, 4);
  return s;
}

WalFile File(const std::string& name) {
  auto f = WalFile::Parse(name);
  REQUIRE_MESSAGE(f.has_value(), name);
  return *f;
}

}  // namespace

TEST_CASE("wal file names: what PostgreSQL archives, and nothing else") {
  CHECK(File("000000010000000A000000FE").kind == WalFileKind::kSegment);
  CHECK(File("000000010000000A000000FE").timeline == 1);
  CHECK(File("000000020000000A000000FE.partial").kind == WalFileKind::kPartial);
  CHECK(File("000000010000000A000000FE.00000028.backup").kind == WalFileKind::kBackupHistory);
  CHECK(File("0000000A.history").kind == WalFileKind::kTimelineHistory);
  CHECK(File("0000000A.history").timeline == 10);
  for (const char* bad : {"", "000000010000000A000000F", "000000010000000a000000fe", "000000000000000A000000FE",
                          "000000010000000A000000FE.tmp", "000000010000000A000000FE.0000028.backup",
                          "0000000A.histor", "RECOVERYXLOG", "../000000010000000A000000FE", "00000001.history.x"}) {
    CAPTURE(bad);
    CHECK_FALSE(WalFile::Parse(bad).has_value());
  }
}

TEST_CASE("wal object names sort by timeline and position and round-trip") {
  const std::string hash(64, 'c');
  CHECK(File("000000010000000A000000FE").ObjectName(hash) == "wal/000000010000000A/000000010000000A000000FE-" + hash);
  CHECK(File("00000002.history").ObjectName(hash) == "wal/history/00000002.history-" + hash);
  for (const char* name : {"000000010000000A000000FE", "000000010000000A000000FE.partial",
                           "000000010000000A000000FE.00000028.backup", "00000002.history"}) {
    auto parsed = ParseWalObjectName(File(name).ObjectName(hash));
    REQUIRE(parsed.has_value());
    CHECK(parsed->file.name == name);
    CHECK(parsed->content_hash == hash);
  }
  CHECK_FALSE(ParseWalObjectName("wal/0000000100000000/000000010000000A000000FE-" + hash).has_value());  // wrong dir
  CHECK_FALSE(ParseWalObjectName("wal/000000010000000A/000000010000000A000000FE-" + std::string(63, 'c')).has_value());
  CHECK_FALSE(ParseWalObjectName("wal/cluster").has_value());
  CHECK_FALSE(ParseWalObjectName("chunks/aa/" + hash).has_value());
}

TEST_CASE("wal page identity: system identifier and segment size from the long page header") {
  auto id = ReadPageIdentity(Segment(7301234567890123456ull, 'x'));
  REQUIRE(id.has_value());
  CHECK(id->system_identifier == 7301234567890123456ull);
  CHECK(id->segment_size == 16u << 20);
  CHECK(id->timeline == 1);
  CHECK_FALSE(ReadPageIdentity(std::string(100, '\0')).has_value());  // no long header flag
  CHECK_FALSE(ReadPageIdentity("short").has_value());
}

TEST_CASE("wal archive: push once, again with the same content, never over other content") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, "wal passphrase", kTinyKdf);
  auto repo = Repository::Open(storage, "wal passphrase");
  WalArchive archive(*repo);
  const WalFile seg = File("000000010000000000000003");
  const std::string content = Segment(42, 'a');

  CHECK(archive.Push(seg, content) == WalArchive::PushOutcome::kStored);
  CHECK(archive.Push(seg, content) == WalArchive::PushOutcome::kAlreadyArchived);
  CHECK(archive.StoredHashes(seg).size() == 1);
  CHECK(archive.Fetch(seg) == content);
  REQUIRE(archive.Identity().has_value());
  CHECK(archive.Identity()->system_identifier == 42);

  SUBCASE("other content under the name is refused and the archived one kept") {
    CHECK(CodeOf([&] { archive.Push(seg, Segment(42, 'b')); }) == ErrorCode::kCorruption);
    CHECK(archive.StoredHashes(seg).size() == 1);
    CHECK(archive.Fetch(seg) == content);
  }
  SUBCASE("a segment of another cluster is refused, also by a new archive object") {
    WalArchive other(*repo);
    CHECK(CodeOf([&] { other.Push(File("000000010000000000000004"), Segment(43, 'a')); }) == ErrorCode::kCorruption);
    CHECK(archive.StoredHashes(File("000000010000000000000004")).empty());
  }
  SUBCASE("a segment without a page header is refused; a history file needs none") {
    CHECK(CodeOf([&] { archive.Push(File("000000010000000000000005"), std::string(8192, '\0')); }) ==
          ErrorCode::kCorruption);
    CHECK(archive.Push(File("00000002.history"), "1\t0/3000000\tno recovery target specified\n") ==
          WalArchive::PushOutcome::kStored);
  }
  SUBCASE("a missing file is a value; a hidden one is still there") {
    CHECK_FALSE(archive.Fetch(File("000000010000000000000009")).has_value());
    storage.Hide(seg.ObjectName(archive.StoredHashes(seg).front()));
    CHECK(archive.Fetch(seg) == content);
  }
  SUBCASE("two contents under one name (split brain) make the file unreadable, not a guess") {
    const std::string other = Segment(42, 'z');
    const std::string name = seg.ObjectName(repo->ChunkId(other));
    storage.Put(name, repo->SealWalObject(name, other));
    CHECK(CodeOf([&] { archive.Fetch(seg); }) == ErrorCode::kCorruption);
  }
  SUBCASE("an object that decrypts to other content than its name says is corrupt") {
    const std::string name = seg.ObjectName(archive.StoredHashes(seg).front());
    storage.Put(name, repo->SealWalObject(name, Segment(42, 'q')));
    CHECK(CodeOf([&] { archive.Fetch(seg); }) == ErrorCode::kCorruption);
  }
}

TEST_CASE("wal archive: the segments archived after one, into the next log") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, "wal passphrase", kTinyKdf);
  auto repo = Repository::Open(storage, "wal passphrase");
  WalArchive archive(*repo);
  for (const char* name : {"0000000100000000000000FD", "0000000100000000000000FE", "0000000100000000000000FF",
                           "000000010000000100000000", "000000010000000100000001", "000000020000000100000002"}) {
    archive.Push(File(name), Segment(7, name[23]));
  }
  archive.Push(File("0000000100000000000000FE.00000028.backup"), "START WAL LOCATION: 0/FE000028\n");
  auto after = archive.ArchivedAfter(File("0000000100000000000000FD"), 3);
  REQUIRE(after.size() == 3);
  CHECK(after[0].name == "0000000100000000000000FE");
  CHECK(after[1].name == "0000000100000000000000FF");
  CHECK(after[2].name == "000000010000000100000000");
  CHECK(archive.ArchivedAfter(File("000000010000000100000001"), 5).empty());  // timeline 2 is not followed
}

}  // namespace wal_archive_unit_test
