// `dhanbak backup [DB ...]`: one consistent snapshot per database, streamed through
// chunk → zstd → AES-256-GCM → storage, a manifest written last, and a catalog row that says
// how it went (design §1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command/context.hpp"

namespace dhanbak::command {

struct BackupOptions {
  std::vector<std::string> databases;  // empty: all configured
  std::optional<int> jobs;
};

// Returns the process exit code: 0 when every database was backed up, else the first error's.
int RunBackup(Context& ctx, const BackupOptions& options);

}  // namespace dhanbak::command
