// `dhanbak init`: creates the repository and its first key. Refuses a passphrase shorter than
// kMinPassphraseChars characters (unless allow_weak_passphrase) and a location that already
// holds anything (a repository or other files): init never writes into someone else's data.
#pragma once

#include <string>

#include "command/context.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::command {

int RunInit(Context& ctx, bool allow_weak_passphrase);

// Throws Error(kConfig) when `passphrase` is shorter than kMinPassphraseChars characters and
// weak passphrases are not allowed; logs a warning when they are. `what` names the secret.
void CheckPassphraseStrength(const std::string& passphrase, const std::string& what, bool allow_weak);

}  // namespace dhanbak::command
