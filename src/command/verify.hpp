// `dhanbak verify [DB ... | --all] [--at TIME | --backup ID] [--json]`: proves backups by
// restoring each into a scratch database (on [verify] conninfo, else the [postgres] server),
// comparing every table's hash and row count and the schema with the backup, then dropping the
// scratch database — also on failure and on SIGTERM. Results go to the catalog for `status`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "command/context.hpp"

namespace dhanbak::command {

struct VerifyOptions {
  std::vector<std::string> databases;
  bool all = false;
  std::optional<std::string> at;
  std::optional<std::string> backup_id;
  std::optional<int> jobs;
};

// 0 all verified, 3 a difference or corruption was found, otherwise the first error's code.
int RunVerify(Context& ctx, const VerifyOptions& options);

}  // namespace dhanbak::command
