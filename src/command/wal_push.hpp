// `dhanbak wal-push PATH` — PostgreSQL's archive_command (`wal-push %p`), design §4.
//
// Exit 0 only once the file is durably stored in the repository (or already was, with the same
// content); any failure exits 1..3 (never above 125, which would kill PostgreSQL's archiver),
// and PostgreSQL calls again later.
//
// With [pitr] archive_async (the default) the call does not push by itself: it makes sure the
// one worker runs (starting it, detached, when it does not), and waits at most
// [pitr] push_timeout for the worker's acknowledgement of its file in the spool. The worker
// unlocks the repository once, pushes every `.ready` file of pg_wal ahead of PostgreSQL's calls,
// [b2] connections at a time, and leaves acknowledgements, so that later calls return at once.
// dhanbak only reads pg_wal: PostgreSQL's status files are PostgreSQL's.
#pragma once

#include <string>

#include "command/context.hpp"

namespace dhanbak::command {

int RunWalPush(Context& ctx, const std::string& path);

}  // namespace dhanbak::command
