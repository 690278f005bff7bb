// `dhanbak wal-fetch NAME PATH` — PostgreSQL's restore_command (`wal-fetch %f %p`), design §4.
//
// Writes WAL file NAME from the repository to PATH, decrypted and checked against the hash it was
// archived with. Exit 1 means only "the repository definitely has no such file" (PostgreSQL then
// ends or switches recovery); every other failure, a network outage included once the storage's
// own retries are spent, exits kWalFetchAbortExitCode (above 125), which makes PostgreSQL stop
// recovery instead of taking the blip for the end of the archive and promoting too early.
#pragma once

#include <string>

#include "command/context.hpp"

namespace dhanbak::command {

inline constexpr int kWalFetchMissingExitCode = 1;
inline constexpr int kWalFetchAbortExitCode = 126;

// Returns 0, or kWalFetchMissingExitCode when the archive definitely has no such file; throws on
// anything else.
int RunWalFetch(Context& ctx, const std::string& name, const std::string& path);

// The process's exit code for wal-fetch, given what main would return: 1 only when RunWalFetch
// itself reported the file missing (a failure elsewhere may also end in 1), 126 for any failure.
int WalFetchExitCode(int code);

}  // namespace dhanbak::command
