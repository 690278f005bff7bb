// Manifest JSON (include/dhanbak/format/manifest.hpp): every field survives a round trip, and
// anything malformed is Error(kCorruption) — a manifest is read back from storage, so bad input
// there means damaged or foreign bytes, never a crash or a half-filled struct.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "dhanbak/error.hpp"
#include "dhanbak/format/manifest.hpp"

namespace manifest_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using namespace dhanbak::format;

namespace {

Manifest FullManifest() {
  Manifest m;
  m.backup_id = "20240115T020000Z-0a1b2c3d";
  m.database = "prod-dhanman-sales";
  m.started_at = 1705284000000000;
  m.snapshot_time = 1705284000500001;
  m.finished_at = 1705284060000002;
  m.server_version = "15.18 (Debian 15.18-1)";
  m.server_version_num = 150018;
  m.pg_dump_version = "15.18";
  m.properties.encoding = "LATIN1";
  m.properties.collate = "de_DE.ISO-8859-1";
  m.properties.ctype = "C";
  m.properties.locale_provider = "i";
  m.properties.icu_locale = "und-u-ks-level2";
  m.properties.owner = "dhanman \"owner\"";
  m.properties.connection_limit = 17;
  m.properties.acl = "{=Tc/dhanman_user,dhanman_user=CTc/dhanman_user}";
  m.properties.comment = "sales — ünïcode, 'quotes', \\backslash\nnewline";
  m.properties.has_comment = true;
  m.properties.settings = {{"", {"work_mem=64MB", "search_path=sales, public"}},
                           {"reporting", {"statement_timeout=30s"}}};
  m.schema = {123456, std::string(64, 'a'), {std::string(64, '1'), std::string(64, '2')}, {}, {}};
  m.globals = {789, std::string(64, 'b'), {std::string(64, '3')}, {}, {}};
  TableEntry t1;
  t1.schema = "public";
  t1.name = "invoice lines";
  t1.columns = {"id", "Invoice Id", "amount"};
  t1.persistence = 'u';
  t1.rows = 9007199254740993;  // > 2^53: must not pass through a double
  t1.data = {40000000000, std::string(64, 'c'), {std::string(64, '4'), std::string(64, '5')},
             {"", std::string(64, '6')}, {"0123456789abcdef", "fedcba9876543210"}};
  TableEntry t2;
  t2.schema = "audit";
  t2.name = "empty";
  t2.rows = 0;
  t2.data = {0, std::string(64, 'e'), {}, {}, {}};
  m.tables = {t1, t2};
  return m;
}

ErrorCode CodeOf(const std::string& json) {
  try {
    ManifestFromJson(json);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace

TEST_CASE("manifest: JSON round trip keeps every field") {
  Manifest m = FullManifest();
  std::string json = ManifestToJson(m);
  Manifest b = ManifestFromJson(json);
  CHECK(b.backup_id == m.backup_id);
  CHECK(b.database == m.database);
  CHECK(b.started_at == m.started_at);
  CHECK(b.snapshot_time == m.snapshot_time);
  CHECK(b.finished_at == m.finished_at);
  CHECK(b.server_version == m.server_version);
  CHECK(b.server_version_num == m.server_version_num);
  CHECK(b.pg_dump_version == m.pg_dump_version);
  CHECK(b.properties.encoding == "LATIN1");
  CHECK(b.properties.collate == m.properties.collate);
  CHECK(b.properties.ctype == "C");
  CHECK(b.properties.locale_provider == "i");
  CHECK(b.properties.icu_locale == m.properties.icu_locale);
  CHECK(b.properties.owner == m.properties.owner);
  CHECK(b.properties.connection_limit == 17);
  CHECK(b.properties.acl == m.properties.acl);
  CHECK(b.properties.comment == m.properties.comment);
  CHECK(b.properties.has_comment);
  REQUIRE(b.properties.settings.size() == 2);
  CHECK(b.properties.settings[0].role.empty());
  CHECK(b.properties.settings[0].settings == m.properties.settings[0].settings);
  CHECK(b.properties.settings[1].role == "reporting");
  CHECK(b.schema.bytes == 123456);
  CHECK(b.schema.sha256 == m.schema.sha256);
  CHECK(b.schema.chunks == m.schema.chunks);
  CHECK(b.globals.chunks == m.globals.chunks);
  REQUIRE(b.tables.size() == 2);
  CHECK(b.tables[0].schema == "public");
  CHECK(b.tables[0].name == "invoice lines");
  CHECK(b.tables[0].columns == m.tables[0].columns);
  CHECK(b.tables[0].persistence == 'u');
  CHECK(b.tables[0].rows == 9007199254740993);
  CHECK(b.tables[0].data.bytes == 40000000000);
  CHECK(b.tables[0].data.chunks == m.tables[0].data.chunks);
  CHECK(b.tables[0].data.bases == m.tables[0].data.bases);
  CHECK(b.tables[0].data.anchors == m.tables[0].data.anchors);
  CHECK(b.tables[0].data.BaseOf(1) == std::string(64, '6'));
  CHECK(b.tables[0].data.NeededChunks().size() == 3);
  CHECK(b.format == 2);  // a manifest with deltas is format 2: older readers refuse it
  CHECK(b.tables[1].data.chunks.empty());
  CHECK(b.tables[1].data.bases.empty());
  CHECK(b.tables[1].data.BaseOf(0).empty());
  CHECK(b.tables[1].persistence == 'p');
  // Serialising again gives the same document: nothing was lost or defaulted.
  CHECK(ManifestToJson(b) == json);
  CHECK(b.TotalRows() == 9007199254740993);
  CHECK(b.LogicalBytes() == 123456 + 789 + 40000000000);
}

TEST_CASE("manifest: a backup from a hot standby records its replay position; a primary's records none") {
  Manifest m = FullManifest();
  CHECK(ManifestToJson(m).find("standby") == std::string::npos);
  CHECK_FALSE(ManifestFromJson(ManifestToJson(m)).standby.has_value());
  m.standby = StandbySource{"0/3000060", "0/3000100", 1764633600123456, 2.5};
  Manifest b = ManifestFromJson(ManifestToJson(m));
  REQUIRE(b.standby.has_value());
  CHECK(b.standby->replay_lsn == "0/3000060");
  CHECK(b.standby->receive_lsn == "0/3000100");
  CHECK(b.standby->last_replay_at == 1764633600123456);
  CHECK(b.standby->replay_lag_seconds == doctest::Approx(2.5));
  CHECK(ManifestToJson(b) == ManifestToJson(m));
}

TEST_CASE("manifest: malformed documents are kCorruption") {
  const std::string good = ManifestToJson(FullManifest());
  CHECK(CodeOf("") == ErrorCode::kCorruption);
  CHECK(CodeOf("{") == ErrorCode::kCorruption);
  CHECK(CodeOf("[]") == ErrorCode::kCorruption);
  CHECK(CodeOf("null") == ErrorCode::kCorruption);
  CHECK(CodeOf(good.substr(0, good.size() / 2)) == ErrorCode::kCorruption);
  CHECK(CodeOf(good + "garbage") == ErrorCode::kCorruption);

  auto without = [&](const std::string& key) {
    auto j = nlohmann::json::parse(good);
    j.erase(key);
    return j.dump();
  };
  for (const char* key : {"format", "backup_id", "database", "snapshot_time", "properties", "schema", "tables"}) {
    CAPTURE(key);
    CHECK(CodeOf(without(key)) == ErrorCode::kCorruption);
  }
  auto with = [&](const nlohmann::json::json_pointer& ptr, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(good);
    j[ptr] = value;
    return j.dump();
  };
  using P = nlohmann::json::json_pointer;
  CHECK(CodeOf(with(P("/tables/0/rows"), "many")) == ErrorCode::kCorruption);
  CHECK(CodeOf(with(P("/tables/0/data/chunks"), "abc")) == ErrorCode::kCorruption);
  // bases and anchors must be parallel to the chunks.
  CHECK(CodeOf(with(P("/tables/0/data/bases"), nlohmann::json::array({""}))) == ErrorCode::kCorruption);
  CHECK(CodeOf(with(P("/tables/0/data/anchors"), nlohmann::json::array({"a", "b", "c"}))) == ErrorCode::kCorruption);
  CHECK(CodeOf(with(P("/schema"), 5)) == ErrorCode::kCorruption);
  CHECK(CodeOf(with(P("/snapshot_time"), "2024-01-15")) == ErrorCode::kCorruption);
  // A manifest from a newer format is refused, not misread.
  Error e(ErrorCode::kInternal, "");
  try {
    ManifestFromJson(with(P("/format"), 3));
  } catch (const Error& caught) {
    e = caught;
  }
  CHECK(e.code() == ErrorCode::kCorruption);
  CHECK(std::string(e.what()).find("newer") != std::string::npos);
  // The unmodified document still parses (the helpers above did not break it by themselves).
  CHECK(ManifestFromJson(with(P("/database"), "prod-dhanman-payroll")).database == "prod-dhanman-payroll");
}

}  // namespace manifest_test
