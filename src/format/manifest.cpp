#include "dhanbak/format/manifest.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dhanbak/error.hpp"
#include "format/stream_ref_json.hpp"

namespace dhanbak::format {

using nlohmann::json;

const std::string& StreamRef::BaseOf(size_t i) const {
  static const std::string kWhole;
  return i < bases.size() ? bases[i] : kWhole;
}

bool StreamRef::HasDeltas() const {
  return std::any_of(bases.begin(), bases.end(), [](const std::string& b) { return !b.empty(); });
}

std::vector<std::string> StreamRef::NeededChunks() const {
  std::vector<std::string> ids = chunks;
  for (const auto& b : bases)
    if (!b.empty()) ids.push_back(b);
  return ids;
}

void to_json(json& j, const StreamRef& s) {
  j = json{{"bytes", s.bytes}, {"sha256", s.sha256}, {"chunks", s.chunks}};
  if (s.HasDeltas()) j["bases"] = s.bases;
  if (!s.anchors.empty()) j["anchors"] = s.anchors;
}
void from_json(const json& j, StreamRef& s) {
  j.at("bytes").get_to(s.bytes);
  j.at("sha256").get_to(s.sha256);
  j.at("chunks").get_to(s.chunks);
  if (j.contains("bases")) j.at("bases").get_to(s.bases);
  if (j.contains("anchors")) j.at("anchors").get_to(s.anchors);
  if ((!s.bases.empty() && s.bases.size() != s.chunks.size()) ||
      (!s.anchors.empty() && s.anchors.size() != s.chunks.size())) {
    throw Error(ErrorCode::kCorruption, "manifest is malformed: a stream's bases or anchors do not match its chunks");
  }
}
static void to_json(json& j, const TableEntry& t) {
  j = json{{"schema", t.schema}, {"name", t.name}, {"columns", t.columns},
           {"persistence", std::string(1, t.persistence)}, {"rows", t.rows}, {"data", t.data}};
  if (!t.oid.empty()) j["oid"] = t.oid;
  if (!t.layout.empty()) j["layout"] = t.layout;
  if (!t.definition.empty()) j["definition"] = t.definition;
}
static void from_json(const json& j, TableEntry& t) {
  j.at("schema").get_to(t.schema);
  j.at("name").get_to(t.name);
  j.at("columns").get_to(t.columns);
  std::string p = j.value("persistence", std::string("p"));
  t.persistence = p.empty() ? 'p' : p[0];
  j.at("rows").get_to(t.rows);
  j.at("data").get_to(t.data);
  t.oid = j.value("oid", std::string());
  t.layout = j.value("layout", std::vector<std::string>());
  t.definition = j.value("definition", std::string());
}
static void to_json(json& j, const RoleSetting& r) { j = json{{"role", r.role}, {"settings", r.settings}}; }
static void from_json(const json& j, RoleSetting& r) {
  j.at("role").get_to(r.role);
  j.at("settings").get_to(r.settings);
}
static void to_json(json& j, const DatabaseProperties& p) {
  j = json{{"encoding", p.encoding},       {"collate", p.collate},
           {"ctype", p.ctype},             {"locale_provider", p.locale_provider},
           {"icu_locale", p.icu_locale},   {"owner", p.owner},
           {"connection_limit", p.connection_limit}, {"acl", p.acl},
           {"comment", p.comment},         {"has_comment", p.has_comment},
           {"settings", p.settings}};
  if (!p.icu_rules.empty()) j["icu_rules"] = p.icu_rules;
}
static void from_json(const json& j, DatabaseProperties& p) {
  j.at("encoding").get_to(p.encoding);
  j.at("collate").get_to(p.collate);
  j.at("ctype").get_to(p.ctype);
  j.at("locale_provider").get_to(p.locale_provider);
  j.at("icu_locale").get_to(p.icu_locale);
  j.at("owner").get_to(p.owner);
  j.at("connection_limit").get_to(p.connection_limit);
  j.at("acl").get_to(p.acl);
  j.at("comment").get_to(p.comment);
  j.at("has_comment").get_to(p.has_comment);
  j.at("settings").get_to(p.settings);
  p.icu_rules = j.value("icu_rules", std::string());
}

int64_t Manifest::TotalRows() const {
  int64_t n = 0;
  for (const auto& t : tables) n += t.rows;
  return n;
}

int64_t Manifest::LogicalBytes() const {
  int64_t n = schema.bytes + globals.bytes;
  for (const auto& t : tables) n += t.data.bytes;
  return n;
}

namespace {

// Format 2 = format 1 plus chunks stored as deltas ("bases"): written only when a stream has one,
// so that a dhanbak that cannot read deltas refuses the manifest instead of misreading it.
constexpr int kFormatWithDeltas = 2;

bool HasDeltas(const Manifest& m) {
  return m.schema.HasDeltas() || m.globals.HasDeltas() ||
         std::any_of(m.tables.begin(), m.tables.end(), [](const TableEntry& t) { return t.data.HasDeltas(); });
}

}  // namespace

std::string ManifestToJson(const Manifest& m) {
  json j{{"format", HasDeltas(m) ? std::max(m.format, kFormatWithDeltas) : m.format},
         {"backup_id", m.backup_id},
         {"database", m.database},
         {"started_at", m.started_at},
         {"snapshot_time", m.snapshot_time},
         {"finished_at", m.finished_at},
         {"server_version", m.server_version},
         {"server_version_num", m.server_version_num},
         {"pg_dump_version", m.pg_dump_version},
         {"properties", m.properties},
         {"schema", m.schema},
         {"globals", m.globals},
         {"tables", m.tables}};
  if (m.standby) {
    j["standby"] = {{"replay_lsn", m.standby->replay_lsn},
                    {"receive_lsn", m.standby->receive_lsn},
                    {"last_replay_at", m.standby->last_replay_at},
                    {"replay_lag_seconds", m.standby->replay_lag_seconds}};
  }
  return j.dump();
}

Manifest ManifestFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    Manifest m;
    j.at("format").get_to(m.format);
    if (m.format != 1 && m.format != kFormatWithDeltas) {
      throw Error(ErrorCode::kCorruption, "manifest format " + std::to_string(m.format) +
                                              " is newer than this dhanbak understands");
    }
    j.at("backup_id").get_to(m.backup_id);
    j.at("database").get_to(m.database);
    j.at("started_at").get_to(m.started_at);
    j.at("snapshot_time").get_to(m.snapshot_time);
    j.at("finished_at").get_to(m.finished_at);
    j.at("server_version").get_to(m.server_version);
    j.at("server_version_num").get_to(m.server_version_num);
    j.at("pg_dump_version").get_to(m.pg_dump_version);
    j.at("properties").get_to(m.properties);
    j.at("schema").get_to(m.schema);
    j.at("globals").get_to(m.globals);
    j.at("tables").get_to(m.tables);
    if (j.contains("standby")) {
      const json& s = j.at("standby");
      StandbySource standby;
      s.at("replay_lsn").get_to(standby.replay_lsn);
      s.at("receive_lsn").get_to(standby.receive_lsn);
      s.at("last_replay_at").get_to(standby.last_replay_at);
      s.at("replay_lag_seconds").get_to(standby.replay_lag_seconds);
      m.standby = standby;
    }
    return m;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorruption, std::string("malformed manifest: ") + e.what());
  }
}

}  // namespace dhanbak::format
