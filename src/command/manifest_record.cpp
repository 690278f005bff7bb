#include "command/manifest_record.hpp"

#include "format/repository.hpp"

namespace dhanbak::command {

catalog::BackupRecord RecordFromManifest(const format::Manifest& m, const std::string& repository_url) {
  catalog::BackupRecord r;
  r.backup_id = m.backup_id;
  r.repository = repository_url;
  r.database = m.database;
  r.status = "ok";
  r.started_at = m.started_at;
  r.finished_at = m.finished_at;
  r.snapshot_time = m.snapshot_time;
  r.server_version = m.server_version;
  r.rows = m.TotalRows();
  r.logical_bytes = m.LogicalBytes();
  r.manifest_name = format::Repository::ManifestName(m.backup_id);
  for (const auto& t : m.tables) {
    r.tables.push_back({t.schema, t.name, t.rows, t.data.bytes, t.data.sha256, static_cast<int64_t>(t.data.chunks.size())});
  }
  return r;
}

}  // namespace dhanbak::command
