// The base backups' part of `dhanbak check`: each listed base backup's manifest opens, every chunk
// it needs is stored (with --read-data: every archive decrypts to its recorded hash), and the WAL
// archive is unbroken from its start to the newest archived segment (design §4: "checks WAL
// continuity from every base backup").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "command/context.hpp"

namespace dhanbak::command {

struct BaseBackupCheckResult {
  std::vector<std::string> problems;
  std::vector<std::string> notes;
  nlohmann::json json = nlohmann::json::array();
  std::unordered_set<std::string> referenced;  // chunk ids the base backups need
};

// `stored`: the chunk objects in the repository (names), from check's one listing.
BaseBackupCheckResult CheckBaseBackups(Context& ctx, const std::unordered_set<std::string>& stored, bool read_data);

}  // namespace dhanbak::command
