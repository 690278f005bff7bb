// The retention policy applied with what the catalog knows: which backups a restore test proved
// (retention prefers them in each day, week and month it keeps one of).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "command/context.hpp"
#include "retention/policy.hpp"

namespace dhanbak::command {

// Backup id -> the rules that keep it; a backup of `backups` not in the map expires.
std::map<std::string, std::string> KeptByRetention(Context& ctx, std::vector<retention::BackupRef> backups);

}  // namespace dhanbak::command
