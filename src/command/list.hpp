// `dhanbak list [DB]`: backups from the catalog, newest first (text table or --json).
#pragma once

#include <optional>
#include <string>

#include "command/context.hpp"

namespace dhanbak::command {
int RunList(Context& ctx, const std::optional<std::string>& database);
}
