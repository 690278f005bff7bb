// The WAL archive's part of `dhanbak check`: continuity (gaps, files stored with two contents),
// with --read-data every archived file decrypted and checked against its hash, and, when the
// configured server archives with dhanbak, the proof end to end: switch to a new segment and wait
// until that segment is in the repository.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command/context.hpp"

namespace dhanbak::command {

struct WalCheckResult {
  std::vector<std::string> problems;
  std::vector<std::string> notes;
  nlohmann::json json;  // null when the repository holds no WAL and the server does not archive
};

WalCheckResult CheckWalArchive(Context& ctx, bool read_data);

}  // namespace dhanbak::command
