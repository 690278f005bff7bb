// `dhanbak check [--read-data]`: repository integrity without a database server. Every key and
// manifest must open; every chunk a manifest references must exist. With --read-data every
// stream is downloaded and every chunk authenticated, its id re-derived from its content, and
// each stream's SHA-256 and length compared with its manifest. Exit 3 when anything is wrong.
#pragma once

#include "command/context.hpp"

namespace dhanbak::command {

int RunCheck(Context& ctx, bool read_data);

}  // namespace dhanbak::command
