// `dhanbak export DB [--at TIME | --backup ID] -o FILE|-`: one plain SQL script that psql alone
// restores faithfully — the escape hatch for anyone who cannot run dhanbak. Layout: pre-data
// (pg_restore -f), every table as a COPY ... FROM stdin block in the database's own encoding,
// sequence values and large objects (data section), post-data, then the database-level
// properties applied to whatever database the script runs in. Every table's stream is checked
// against the manifest's SHA-256 as it is written; on any failure the output file is removed.
#pragma once

#include <optional>
#include <string>

#include "command/context.hpp"

namespace dhanbak::command {

struct ExportOptions {
  std::string database;
  std::optional<std::string> at;
  std::optional<std::string> backup_id;
  std::string output;  // path, or "-" for stdout
  bool force = false;  // overwrite an existing output file
};

int RunExport(Context& ctx, const ExportOptions& options);

}  // namespace dhanbak::command
