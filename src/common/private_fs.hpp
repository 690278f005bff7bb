// Files and directories that only the service user may read: the catalog (database names,
// backup history), its lock files and plaintext exports. Modes are set explicitly, so the
// result does not depend on the caller's umask.
#pragma once

#include <string>

#include "dhanbak/error.hpp"

namespace dhanbak {

// Creates the missing directories of `dir` (and their missing ancestors), each with mode 0700.
// Existing directories are left as they are. Throws Error(code) "`what`: cannot create ...".
void CreatePrivateDirectories(const std::string& dir, ErrorCode code, const std::string& what);

// Makes sure `path` exists as a regular file with no group or other permissions: creates it
// (empty, 0600) when missing, and removes group/other bits from an existing one. A missing file
// is only created when `create` is true. Throws Error(code).
void MakePrivateFile(const std::string& path, bool create, ErrorCode code, const std::string& what);

}  // namespace dhanbak
