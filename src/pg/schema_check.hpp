// Schema verification: the restored database, dumped by pg_dump without the data of the
// tables dhanbak loads itself, must produce exactly the script that the backup's own archive
// produces (pg_restore -f -). That covers every schema object, sequence value, large object
// and matview definition, and is independent of the database's name. pg_dump's per-run random
// `\restrict` keys are the only lines ignored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/pg_tools.hpp"

namespace dhanbak::pg {

// Returns std::nullopt when identical, else a description of the first difference.
std::optional<std::string> CompareSchema(const ToolTarget& target, const std::string& archive_path,
                                         const std::vector<std::pair<std::string, std::string>>& data_tables,
                                         const std::string& work_dir);

}  // namespace dhanbak::pg
