// Rebuilt tables (see table_layout.hpp): inheritance children whose column order pg_dump's
// ordinary `CREATE TABLE ... INHERITS` would change. Their definitions come from
// pg_dump --binary-upgrade, which writes every column in order and attaches the parents
// afterwards, then marks inherited columns and constraints as such (catalog updates that need a
// superuser, exactly as pg_upgrade runs them). Binary-upgrade-only calls (OID preservation,
// relfrozenxid) are removed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "dhanbak/format/manifest.hpp"
#include "pg/pg_tools.hpp"

namespace dhanbak::pg {

// Source table oid → definition, for the tables of `tables` that carry one.
std::map<std::string, std::string> TableDefinitions(const std::vector<format::TableEntry>& tables);

// Splits SQL text into statements (quotes, dollar quotes and comments respected); psql
// meta-commands (\restrict) are statements of their own. Comment-only text yields nothing.
std::vector<std::string> SplitSqlStatements(const std::string& text);

// From a plain pg_dump --binary-upgrade script, the definition of table schema.name with the
// binary-upgrade-only statements removed; empty when the script has no such table.
std::string ExtractTableDefinition(const std::string& script, const std::string& schema, const std::string& name);

// The archive's table of contents cut before each TABLE entry that a definition replaces: run
// `toc` (a pg_restore list), then `definition`, in order.
struct PreDataStep {
  std::string toc;
  std::string definition;  // empty for the last step
};
std::vector<PreDataStep> SplitAtDefinitions(int server_version_num, const std::string& archive_path,
                                            const std::map<std::string, std::string>& definitions);

// pg_restore --section=pre-data of `archive_path`, with the TABLE entries of the tables in
// `definitions` (source oid → SQL) replaced by those definitions, each run at its place in the
// archive's dependency order. `work_dir` holds the list files.
void RestorePreDataWithDefinitions(const ToolTarget& target, const std::string& archive_path,
                                   const std::map<std::string, std::string>& definitions, const std::string& work_dir);

// The same as a plain script (for export): pg_restore -f of each piece with the definitions
// between them, written to `out_path`.
void PreDataScriptWithDefinitions(int server_version_num, const std::string& archive_path,
                                  const std::map<std::string, std::string>& definitions, const std::string& work_dir,
                                  const std::string& out_path);

}  // namespace dhanbak::pg
