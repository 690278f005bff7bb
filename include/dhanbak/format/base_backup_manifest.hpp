// BaseBackupManifest — the record of one finished base backup: a physical copy of the whole
// cluster taken with BASE_BACKUP (docs/repository-format.md §10). Stored sealed as
// `basebackups/<backup-id>` only once every WAL segment from its start to its stop is in the
// archive, so a base backup that is listed is always usable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dhanbak/format/manifest.hpp"

namespace dhanbak::format {

// One tar archive of the backup: the main data directory ("base.tar") or one tablespace
// ("<oid>.tar"), stored as a content-defined chunked stream.
struct BaseBackupArchive {
  std::string name;            // as the server names it: "base.tar", "16385.tar"
  std::string tablespace_oid;  // "" for the main data directory
  std::string location;        // the tablespace's directory on the server ("" for base.tar)
  StreamRef data;
};

struct BaseBackupManifest {
  int format = 1;
  std::string backup_id;
  std::string label;
  int64_t started_at = 0;   // UnixMicros, before BASE_BACKUP
  int64_t stopped_at = 0;   // UnixMicros, once the server returned the stop position
  int64_t finished_at = 0;  // UnixMicros, once the WAL start..stop was archived
  std::string system_identifier;
  std::string server_version;
  int server_version_num = 0;
  uint32_t segment_size = 0;
  std::string start_lsn, stop_lsn;
  uint32_t start_timeline = 0, stop_timeline = 0;
  std::string start_wal, stop_wal;  // the first and last segment the backup needs
  std::vector<BaseBackupArchive> archives;
  StreamRef backup_manifest;  // the server's backup_manifest (for pg_verifybackup)

  int64_t Bytes() const;  // plaintext bytes of every archive
  std::vector<std::string> NeededChunks() const;
};

inline constexpr char kBaseBackupsPrefix[] = "basebackups/";
std::string BaseBackupManifestToJson(const BaseBackupManifest& m);
// Throws Error(kCorruption) on malformed input or an unknown format.
BaseBackupManifest BaseBackupManifestFromJson(const std::string& json);

}  // namespace dhanbak::format
