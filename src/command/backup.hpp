// `dhanbak backup [DB ...]`: one consistent snapshot per database, streamed through
// chunk → zstd → AES-256-GCM → storage, a manifest written last, and a catalog row that says
// how it went (design §1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "dhanbak/format/manifest.hpp"

namespace dhanbak::command {

struct BackupOptions {
  std::vector<std::string> databases;  // empty: all configured
  std::optional<int> jobs;
};

// "20240115T020000Z-3f9a1c2b": the start time (UTC) and 4 random bytes.
std::string NewBackupId(int64_t now_unix_micros);

// Backs up one database into ctx's repository, without notifications or a summary (the
// copy-out of a point-in-time restore, into its scratch repository); `globals` adds the
// cluster's roles. Returns the manifest stored.
format::Manifest BackupOneDatabase(Context& ctx, const std::string& database, int jobs, bool globals);

// Returns the process exit code: 0 when every database was backed up, else the first error's.
int RunBackup(Context& ctx, const BackupOptions& options);

}  // namespace dhanbak::command
