// `dhanbak init`: creates the repository (config object) and its first key.
#pragma once

#include "command/context.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::command {
int RunInit(Context& ctx);
}
