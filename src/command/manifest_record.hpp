// The catalog row that mirrors a manifest: the one mapping used both when a backup finishes and
// when `catalog rebuild` recreates the catalog from storage.
#pragma once

#include <string>

#include "dhanbak/catalog/catalog.hpp"
#include "dhanbak/format/base_backup_manifest.hpp"
#include "dhanbak/format/manifest.hpp"

namespace dhanbak::command {

catalog::BackupRecord RecordFromManifest(const format::Manifest& m, const std::string& repository_url);

// The same for a stored (so usable) base backup; `stored_bytes` is what its run added.
catalog::BaseBackupRecord RecordFromBaseBackup(const format::BaseBackupManifest& m, const std::string& repository_url,
                                               int64_t stored_bytes = 0);

}  // namespace dhanbak::command
