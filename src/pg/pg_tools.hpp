// Runs PostgreSQL's own tools for what they do best: pg_dump for the schema (everything but
// table data, in the backup's snapshot), pg_restore for replaying it by section, and
// pg_dumpall for cluster globals. Connection parameters travel in PG* environment variables,
// never in argv, so passwords stay out of `ps`.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dhanbak::pg {

struct ToolTarget {
  std::string conninfo;  // the [postgres] conninfo (may hold a password)
  std::string dbname;
  int server_version_num = 0;  // picks the matching client binaries
};

// The -d argument of the tools: the database and the conninfo options that no PG* variable
// carries and that are not secret (keepalives, tcp_user_timeout, ...).
std::string ToolConninfo(const ToolTarget& target);
// The tools' environment: PG* variables for the conninfo (passwords included, never argv), and
// for secret options without a variable (sslpassword) a private service file (PGSERVICEFILE).
std::vector<std::pair<std::string, std::string>> ToolEnvironment(const ToolTarget& target);

// pg_dump -Fc of everything except the data of `excluded_tables` (the tables dhanbak COPYs
// itself), in `snapshot`: schema, sequence values, large objects, matview refreshes,
// extension configuration data. Streams the archive to `sink`.
void DumpSchemaArchive(const ToolTarget& target, const std::string& snapshot,
                       const std::vector<std::pair<std::string, std::string>>& excluded_tables,
                       const std::function<void(std::string_view)>& sink);

// pg_dump --binary-upgrade --schema-only (plain) of `tables` in `snapshot`: the definitions
// of inheritance children with their exact column order (see rebuilt_tables.hpp).
std::string DumpUpgradeDefinitions(const ToolTarget& target, const std::string& snapshot,
                                   const std::vector<std::pair<std::string, std::string>>& tables);

// pg_dumpall --globals-only (falls back to --no-role-passwords when not superuser).
void DumpGlobals(const ToolTarget& target, const std::function<void(std::string_view)>& sink);

// pg_restore of one section ("pre-data", "data", "post-data") of the archive file into the
// target database, stopping at the first error. `list_file` (optional) restricts the entries.
void RestoreSection(const ToolTarget& target, const std::string& archive_path, const std::string& section,
                    int jobs, const std::string& list_file = "");

// psql -f script on the target (used for globals). Stops at the first error unless told not to.
void RunPsqlScript(const ToolTarget& target, const std::string& script_path, bool stop_on_error);

// "pg_dump (PostgreSQL) 15.18"
std::string PgDumpVersion(int server_version_num);

}  // namespace dhanbak::pg

namespace dhanbak::pg {

// pg_restore -f OUT [--section=S] [-L list]: the archive as a plain SQL script.
void ArchiveToScript(int server_version_num, const std::string& archive_path, const std::string& out_path,
                     const std::string& section = "", const std::string& list_file = "");
// pg_restore -l: the archive's table of contents.
std::string ArchiveToc(int server_version_num, const std::string& archive_path);
// pg_dump -b (plain) of the target database without the data of `excluded_tables`, to OUT.
void DumpScript(const ToolTarget& target, const std::vector<std::pair<std::string, std::string>>& excluded_tables,
                const std::string& out_path);

}  // namespace dhanbak::pg
