// Subprocess — runs a helper program (pg_dump, pg_restore, pg_dumpall, psql) without a shell,
// streaming its stdout to a callback and keeping the tail of its stderr for error messages.
// Secrets go to the child through `env`, never through argv.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dhanbak {

struct SubprocessOptions {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added to / overriding the environment
  std::optional<std::string> stdin_file;                 // default: /dev/null
  std::function<void(std::string_view)> on_stdout;       // default: discard
  std::function<void(std::string_view)> on_stderr_line;  // e.g. forward to the log
};

struct SubprocessResult {
  int exit_code = 0;       // 128 + signal when killed by a signal
  std::string stderr_tail; // last ~16 KiB of stderr
};

// Runs to completion. If on_stdout throws, the child is killed and the exception propagates.
// Throws Error(kIo) when the program cannot be started.
SubprocessResult RunSubprocess(const SubprocessOptions& options);

// Finds a PostgreSQL client program: $DHANBAK_PG_BINDIR, then /usr/lib/postgresql/<major>/bin
// for the server's major version, then the newest /usr/lib/postgresql/*/bin, then PATH.
std::string FindPgProgram(const std::string& name, int server_version_num);

}  // namespace dhanbak
