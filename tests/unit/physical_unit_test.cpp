// The physical layer's pure parts (src/physical/, the base backup manifest): unpacking tar
// streams as BASE_BACKUP sends them, timeline history files, and the manifest's JSON. The real
// server runs them end to end in tests/integration/base_backup_test.cpp.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "dhanbak/error.hpp"
#include "dhanbak/format/base_backup_manifest.hpp"
#include "physical/recovery_plan.hpp"
#include "physical/tar_extract.hpp"
#include "retention/physical.hpp"
#include "support/error_code.hpp"

namespace physical_unit_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;
using dhanbak::ErrorCode;
using dhanbak::test::CodeOf;
using dhanbak::physical::TarExtractor;

namespace {

struct ScratchDir {
  std::string path;
  ScratchDir() {
    char tmpl[] = "/tmp/dhanbak-physical-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~ScratchDir() { fs::remove_all(path); }
};

// One ustar header as PostgreSQL's tarCreateHeader writes it.
std::string Header(const std::string& name, char type, uint64_t size, unsigned mode, const std::string& link = "") {
  std::string h(512, '\0');
  name.copy(h.data(), std::min<size_t>(name.size(), 99));
  std::snprintf(h.data() + 100, 8, "%07o", mode);
  std::snprintf(h.data() + 108, 8, "%07o", 0u);
  std::snprintf(h.data() + 116, 8, "%07o", 0u);
  std::snprintf(h.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(h.data() + 136, 12, "%011o", 0u);
  h[156] = type;
  link.copy(h.data() + 157, std::min<size_t>(link.size(), 99));
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  return h;
}

std::string Entry(const std::string& name, const std::string& content, unsigned mode = 0600) {
  std::string e = Header(name, '0', content.size(), mode) + content;
  e.append((512 - content.size() % 512) % 512, '\0');
  return e;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("tar extract: files, directories and links arrive intact whatever the pieces") {
  std::string big(70000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  const std::string archive = Header("global", '5', 0, 0700) + Entry("global/pg_control", "control") +
                              Header("pg_tblspc", '5', 0, 0700) + Header("pg_tblspc/16385", '2', 0, 0777, "/old/ts") +
                              Entry("base/1/1259", big) + Entry("empty", "") + std::string(1024, '\0');
  for (size_t piece : {size_t{1}, size_t{7}, size_t{512}, size_t{4096}, archive.size()}) {
    CAPTURE(piece);
    ScratchDir dir;
    std::string seen_link;
    TarExtractor x(dir.path, [&](const std::string& name, const std::string& target) {
      seen_link = name + "->" + target;
      return std::string("/new/ts");
    });
    for (size_t at = 0; at < archive.size(); at += piece) x.Write(std::string_view(archive).substr(at, piece));
    x.Finish();
    CHECK(ReadAll(dir.path + "/global/pg_control") == "control");
    CHECK(ReadAll(dir.path + "/base/1/1259") == big);
    CHECK(fs::exists(dir.path + "/empty"));
    CHECK(fs::file_size(dir.path + "/empty") == 0);
    CHECK(seen_link == "pg_tblspc/16385->/old/ts");
    CHECK(fs::read_symlink(dir.path + "/pg_tblspc/16385") == "/new/ts");
    CHECK((fs::status(dir.path + "/global/pg_control").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(x.files() == 3);
    CHECK(x.bytes() == static_cast<int64_t>(big.size() + 7));
  }
}

TEST_CASE("tar extract: a truncated archive, an escaping name or an unknown entry type is refused") {
  ScratchDir dir;
  auto identity = [](const std::string&, const std::string& t) { return t; };
  const std::string file = Entry("base/1/2", std::string(1000, 'z'));
  {
    TarExtractor x(dir.path + "/a", identity);
    x.Write(file.substr(0, 700));
    CHECK(CodeOf([&] { x.Finish(); }) == ErrorCode::kCorruption);
  }
  {
    TarExtractor x(dir.path + "/b", identity);
    CHECK(CodeOf([&] { x.Write(Entry("../outside", "x")); }) == ErrorCode::kCorruption);
    CHECK_FALSE(fs::exists(dir.path + "/outside"));
  }
  {
    TarExtractor x(dir.path + "/c", identity);
    CHECK(CodeOf([&] { x.Write(Header("fifo", '6', 0, 0600)); }) == ErrorCode::kCorruption);
  }
  {
    TarExtractor x(dir.path + "/d", identity);
    std::string broken = Header("file", '0', 0, 0600);
    broken[124] = 'q';  // a size that is not octal
    CHECK(CodeOf([&] { x.Write(broken); }) == ErrorCode::kCorruption);
  }
}

TEST_CASE("timeline history files are parsed; malformed lines are refused") {
  auto h = dhanbak::physical::ParseTimelineHistory(
      "1\t0/3000158\tno recovery target specified\n\n2\t0/50000A0\tbefore 2024-01-15 14:31:00+00\n");
  REQUIRE(h.size() == 2);
  CHECK(h[0].timeline == 1);
  CHECK(h[0].switch_lsn == 0x3000158);
  CHECK(h[1].timeline == 2);
  CHECK(h[1].switch_lsn == 0x50000A0);
  CHECK(CodeOf([] { dhanbak::physical::ParseTimelineHistory("1\tnot-an-lsn\n"); }) == ErrorCode::kCorruption);
}

TEST_CASE("base backup manifest: JSON round trip; another format is refused") {
  dhanbak::format::BaseBackupManifest m;
  m.backup_id = "20240115T020000Z-aa";
  m.system_identifier = "7311938482744216842";
  m.segment_size = 16u << 20;
  m.start_lsn = "0/5000028";
  m.stop_lsn = "0/5000100";
  m.start_timeline = m.stop_timeline = 1;
  m.start_wal = m.stop_wal = "000000010000000000000005";
  dhanbak::format::BaseBackupArchive a;
  a.name = "16385.tar";
  a.tablespace_oid = "16385";
  a.location = "/srv/ts";
  a.data.bytes = 10;
  a.data.sha256 = "ab";
  a.data.chunks = {"c1", "c2"};
  m.archives.push_back(a);
  m.backup_manifest.chunks = {"c3"};
  auto back = dhanbak::format::BaseBackupManifestFromJson(dhanbak::format::BaseBackupManifestToJson(m));
  CHECK(back.backup_id == m.backup_id);
  CHECK(back.segment_size == m.segment_size);
  REQUIRE(back.archives.size() == 1);
  CHECK(back.archives[0].location == "/srv/ts");
  CHECK(back.Bytes() == 10);
  CHECK(back.NeededChunks() == std::vector<std::string>{"c3", "c1", "c2"});
  std::string json = dhanbak::format::BaseBackupManifestToJson(m);
  json.replace(json.find("\"format\":1"), 10, "\"format\":9");
  CHECK(CodeOf([&] { dhanbak::format::BaseBackupManifestFromJson(json); }) == ErrorCode::kCorruption);
  CHECK(CodeOf([] { dhanbak::format::BaseBackupManifestFromJson("{}"); }) == ErrorCode::kCorruption);
}

TEST_CASE("physical retention: the base backups reaching the window's start and every newer one, WAL from the oldest") {
  using dhanbak::retention::PlanPhysicalRetention;
  const int64_t hour = 3600LL * 1000000;
  // Stopped at hours 0, 24, 48, 72 (newest); start segments 10, 20, 30, 40.
  std::vector<dhanbak::retention::BaseBackupRef> bases{
      {"b0", 0, 10}, {"b3", 72 * hour, 40}, {"b1", 24 * hour, 20}, {"b2", 48 * hour, 30}};
  auto plan = PlanPhysicalRetention(bases, std::chrono::hours(30));  // window starts at hour 42
  CHECK(plan.expired == std::set<std::string>{"b0"});  // b1 (hour 24) is needed to reach hour 42
  CHECK(plan.wal_cutoff_segno == 20);
  plan = PlanPhysicalRetention(bases, std::chrono::hours(24));  // window starts at hour 48: b2 reaches it
  CHECK(plan.expired == std::set<std::string>{"b0", "b1"});
  CHECK(plan.wal_cutoff_segno == 30);
  plan = PlanPhysicalRetention(bases, std::chrono::hours(1000));  // nothing reaches back that far
  CHECK(plan.expired.empty());
  CHECK(plan.wal_cutoff_segno == 10);
  plan = PlanPhysicalRetention(bases, std::chrono::seconds(0));
  CHECK(plan.expired.size() == 3);
  CHECK(plan.wal_cutoff_segno == 40);
  CHECK(PlanPhysicalRetention({}, std::chrono::hours(1)).wal_cutoff_segno == 0);

  using dhanbak::retention::WalFileSegno;
  CHECK(WalFileSegno("000000010000000A000000FE", 16u << 20) == 0xA * 256 + 0xFE);
  CHECK(WalFileSegno("000000020000000A000000FE.partial", 16u << 20) == 0xA * 256 + 0xFE);
  CHECK(WalFileSegno("000000010000000000000003.00000028.backup", 16u << 20) == 3);
  CHECK(WalFileSegno("000000010000000100000001", 1u << 30) == 4 + 1);
  CHECK_FALSE(WalFileSegno("00000002.history", 16u << 20));
  CHECK_FALSE(WalFileSegno("cluster", 16u << 20));
}

}  // namespace physical_unit_test
