// The catalog row that mirrors a manifest: the one mapping used both when a backup finishes and
// when `catalog rebuild` recreates the catalog from storage.
#pragma once

#include <string>

#include "dhanbak/catalog/catalog.hpp"
#include "dhanbak/format/manifest.hpp"

namespace dhanbak::command {

catalog::BackupRecord RecordFromManifest(const format::Manifest& m, const std::string& repository_url);

}  // namespace dhanbak::command
