// Whole-file reads and atomic whole-file writes on the local file system.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dhanbak {

// The bytes of `path`. Throws Error(kIo) naming the path; kNotFound when it does not exist.
std::string ReadFileBytes(const std::string& path);
// nullopt when `path` does not exist; other failures throw Error(kIo).
std::optional<std::string> ReadFileIfExists(const std::string& path);

// Writes `data` to a temporary file beside `path` and renames it over `path`, so a reader sees the
// old file or the new one, never a part. `mode` applies whatever the umask; `durable` fsyncs the
// file and its directory before returning. Throws Error(kIo) (a full disk included).
void WriteFileAtomically(const std::string& path, std::string_view data, unsigned mode, bool durable);

}  // namespace dhanbak
