// `dhanbak init`: creates the repository and its first key. Refuses a passphrase shorter than
// kMinPassphraseChars characters (unless allow_weak_passphrase) and a location that already
// holds anything (a repository or other files): init never writes into someone else's data.
#pragma once

#include <string>

#include "command/context.hpp"
#include "dhanbak/error.hpp"
#include "format/repository.hpp"

namespace dhanbak::command {

int RunInit(Context& ctx, bool allow_weak_passphrase);

// Throws Error(kConfig) when `passphrase` is shorter than kMinPassphraseChars characters and
// weak passphrases are not allowed; logs a warning when they are. `what` names the secret.
void CheckPassphraseStrength(const std::string& passphrase, const std::string& what, bool allow_weak);

// The scrypt cost of a key that init or `key add` writes: the default (128 MiB, about 1 s of CPU
// on the machines we run on), unless DHANBAK_TESTONLY_WEAKEN_KDF=1 is set in the environment,
// which the test suites set so that their thousands of runs do not each spend that second
// (as borg's BORG_TESTONLY_WEAKEN_KDF). A weakened key is announced with a warning.
format::KdfParams KdfForNewKeys();

}  // namespace dhanbak::command
