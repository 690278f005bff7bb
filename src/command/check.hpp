// `dhanbak check [--read-data]`: repository integrity without a database server. Every key and
// manifest must open; every chunk a manifest references must exist. With --read-data every
// stream is downloaded and every chunk authenticated, its id re-derived from its content, and
// each stream's SHA-256 and length compared with its manifest. Hidden objects (B2 hide markers)
// are reported, and with --read-data every version of an object with several is authenticated
// (version_audit.hpp). Exit 3 when anything is wrong.
#pragma once

#include "command/context.hpp"

namespace dhanbak::command {

int RunCheck(Context& ctx, bool read_data);

}  // namespace dhanbak::command
