// `dhanbak base-backup`: a physical copy of the whole cluster through the replication protocol
// (BASE_BACKUP, as pg_basebackup takes it), every tar archive and the server's backup_manifest
// streamed through chunk → zstd → AES-256-GCM → storage (content-defined chunks, so what did not
// change since the last base backup is stored once). The base backup is written to the
// repository (basebackups/<id>) only once every WAL segment from its start to its stop is
// archived: a listed base backup can always be restored (design §4).
#pragma once

#include "command/context.hpp"

namespace dhanbak::command {

// Returns the process exit code.
int RunBaseBackup(Context& ctx);

}  // namespace dhanbak::command
