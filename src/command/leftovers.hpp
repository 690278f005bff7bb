// Databases left behind by killed runs (SIGKILL, OOM killer, reboot): restores still under
// their "restoring" name (restore_names.hpp) and verification scratch databases. A database
// counts as left over only while nobody is connected to it, so a run in progress is never
// touched.
#pragma once

#include <string>
#include <vector>

namespace dhanbak::command {

struct Leftover {
  std::string database;
  std::string kind;  // "restore" or "verify"
};

// Every leftover on the server of `conninfo`.
std::vector<Leftover> FindLeftovers(const std::string& conninfo);

// Drops the leftovers of earlier restores of `target` and warns about any other leftover.
void RemoveLeftoversOf(const std::string& conninfo, const std::string& target);

}  // namespace dhanbak::command
