#include "dhanbak/format/base_backup_manifest.hpp"

#include <nlohmann/json.hpp>

#include "dhanbak/error.hpp"
#include "format/stream_ref_json.hpp"

namespace dhanbak::format {

using nlohmann::json;

int64_t BaseBackupManifest::Bytes() const {
  int64_t total = 0;
  for (const auto& a : archives) total += a.data.bytes;
  return total;
}

std::vector<std::string> BaseBackupManifest::NeededChunks() const {
  std::vector<std::string> ids = backup_manifest.NeededChunks();
  for (const auto& a : archives) {
    auto more = a.data.NeededChunks();
    ids.insert(ids.end(), more.begin(), more.end());
  }
  return ids;
}

static void to_json(json& j, const BaseBackupArchive& a) {
  j = json{{"name", a.name}, {"tablespace_oid", a.tablespace_oid}, {"location", a.location}, {"data", a.data}};
}
static void from_json(const json& j, BaseBackupArchive& a) {
  j.at("name").get_to(a.name);
  j.at("tablespace_oid").get_to(a.tablespace_oid);
  j.at("location").get_to(a.location);
  j.at("data").get_to(a.data);
}

std::string BaseBackupManifestToJson(const BaseBackupManifest& m) {
  json j{{"format", m.format},
         {"kind", "base"},
         {"backup_id", m.backup_id},
         {"label", m.label},
         {"started_at", m.started_at},
         {"stopped_at", m.stopped_at},
         {"finished_at", m.finished_at},
         {"system_identifier", m.system_identifier},
         {"server_version", m.server_version},
         {"server_version_num", m.server_version_num},
         {"segment_size", m.segment_size},
         {"start_lsn", m.start_lsn},
         {"stop_lsn", m.stop_lsn},
         {"start_timeline", m.start_timeline},
         {"stop_timeline", m.stop_timeline},
         {"start_wal", m.start_wal},
         {"stop_wal", m.stop_wal},
         {"archives", m.archives},
         {"backup_manifest", m.backup_manifest}};
  return j.dump();
}

BaseBackupManifest BaseBackupManifestFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    BaseBackupManifest m;
    j.at("format").get_to(m.format);
    if (m.format != 1 || j.value("kind", "") != "base") {
      throw Error(ErrorCode::kCorruption, "base backup manifest format " + std::to_string(m.format) +
                                              " is not one this dhanbak understands");
    }
    j.at("backup_id").get_to(m.backup_id);
    j.at("label").get_to(m.label);
    j.at("started_at").get_to(m.started_at);
    j.at("stopped_at").get_to(m.stopped_at);
    j.at("finished_at").get_to(m.finished_at);
    j.at("system_identifier").get_to(m.system_identifier);
    j.at("server_version").get_to(m.server_version);
    j.at("server_version_num").get_to(m.server_version_num);
    j.at("segment_size").get_to(m.segment_size);
    j.at("start_lsn").get_to(m.start_lsn);
    j.at("stop_lsn").get_to(m.stop_lsn);
    j.at("start_timeline").get_to(m.start_timeline);
    j.at("stop_timeline").get_to(m.stop_timeline);
    j.at("start_wal").get_to(m.start_wal);
    j.at("stop_wal").get_to(m.stop_wal);
    j.at("archives").get_to(m.archives);
    j.at("backup_manifest").get_to(m.backup_manifest);
    return m;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorruption, std::string("malformed base backup manifest: ") + e.what());
  }
}

}  // namespace dhanbak::format
