// Backups taken on a hot standby (docs/operations.md "Backing up from a standby"): where its
// replay stood, and how to tell a recovery conflict (the standby cancelling a backup's snapshot
// to apply the primary's changes) from other failures.
#pragma once

#include <optional>
#include <string>

#include "dhanbak/format/manifest.hpp"
#include "pg/connection.hpp"

namespace dhanbak::pg {

// The replay position of the server `conn` is connected to; nullopt on a primary.
std::optional<format::StandbySource> ReadStandbySource(PgConnection& conn);

// True when `message` is PostgreSQL cancelling or terminating a session to let recovery go on.
bool IsRecoveryConflict(const std::string& message);

// What to change on the standby so that a backup is not cancelled again.
std::string RecoveryConflictAdvice(const std::string& max_standby_streaming_delay);

}  // namespace dhanbak::pg
