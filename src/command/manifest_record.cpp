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

catalog::BaseBackupRecord RecordFromBaseBackup(const format::BaseBackupManifest& m, const std::string& repository_url,
                                               int64_t stored_bytes) {
  catalog::BaseBackupRecord r;
  r.backup_id = m.backup_id;
  r.repository = repository_url;
  r.status = "ok";
  r.started_at = m.started_at;
  r.stopped_at = m.stopped_at;
  r.finished_at = m.finished_at;
  r.system_identifier = m.system_identifier;
  r.server_version = m.server_version;
  r.timeline = m.stop_timeline;
  r.start_lsn = m.start_lsn;
  r.stop_lsn = m.stop_lsn;
  r.start_wal = m.start_wal;
  r.stop_wal = m.stop_wal;
  r.bytes = m.Bytes();
  r.stored_bytes = stored_bytes;
  r.manifest_name = format::kBaseBackupsPrefix + m.backup_id;
  return r;
}

}  // namespace dhanbak::command
