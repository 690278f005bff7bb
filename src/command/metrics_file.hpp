// The Prometheus textfile-collector file ([notify] metrics_file): after every unattended command,
// a snapshot of what the catalog knows, per database: the last backup's result, time, duration and
// sizes, the last restore test (and point-in-time restore test with its RTO), and for the
// repository the age of the newest archived WAL (the RPO) and the bytes stored. Each command's
// own last run (result, time, duration) is kept beside the others'. Written atomically; a problem
// is a warning, never the command's failure.
#pragma once

#include <string>

#include "command/context.hpp"

namespace dhanbak::command {

void WriteMetricsFile(Context& ctx, const std::string& command, int exit_code, double seconds);

// The text itself; `previous` is the file as it was (its other commands' run metrics stay).
std::string MetricsSnapshot(Context& ctx, const std::string& command, int exit_code, double seconds,
                            const std::string& previous, int64_t now_unix_seconds);

}  // namespace dhanbak::command
