// Smaller commands over the repository and the catalog:
//   catalog rebuild   recreate the catalog's backups from the manifests in storage alone
//   status            last good backup and last verification per database (exit 5 on alert)
//   key add|list|remove   passphrases that unlock the repository
#pragma once

#include <optional>
#include <string>

#include "command/context.hpp"

namespace dhanbak::command {

int RunCatalogRebuild(Context& ctx);
// Exit 5 when a database's last good backup is older than `max_age`, its last verification
// failed, a backup is lost, the WAL archive has a gap, or its newest segment is older than
// `max_wal_age`.
int RunStatus(Context& ctx, const std::optional<std::string>& max_age, const std::optional<std::string>& max_wal_age,
              const std::optional<std::string>& max_pitr_age = std::nullopt);
// The new passphrase comes from a secret reference (env:NAME or file:PATH), never from argv.
int RunKeyAdd(Context& ctx, const std::string& new_passphrase_ref, bool allow_weak_passphrase);
int RunKeyList(Context& ctx);
int RunKeyRemove(Context& ctx, const std::string& key_id);

}  // namespace dhanbak::command
