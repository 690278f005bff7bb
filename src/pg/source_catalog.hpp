// Queries against the source database's system catalogs, run inside the backup's snapshot:
// which tables hold data dhanbak must COPY, and the database-level properties that pg_dump
// (without --create) does not carry.
#pragma once

#include <string>
#include <vector>

#include "dhanbak/format/manifest.hpp"
#include "pg/connection.hpp"

namespace dhanbak::pg {

struct TableInfo {
  std::string oid;
  std::string schema;
  std::string name;
  char persistence = 'p';
  std::vector<std::string> columns;  // non-dropped, non-generated, in attnum order
  int64_t size_bytes = 0;            // pg_table_size: for largest-first ordering and ETA
};

// Every table whose rows a restore needs: ordinary and unlogged tables, partitions (leaves),
// inheritance parents and children (COPY reads ONLY the named table), zero-column tables.
// Excluded: partitioned parents (no storage), views, foreign tables (pg_dump's default),
// temporary tables, system schemas, and tables that belong to extensions (pg_dump handles
// their configuration data). Ordered largest first.
std::vector<TableInfo> ListDataTables(PgConnection& conn);

// Server versions whose catalogs dhanbak knows (each version-dependent query is chosen per version).
inline constexpr int kOldestSupportedMajor = 13;
inline constexpr int kNewestSupportedMajor = 18;
// Throws Error(kPg) naming the version and the supported range.
void RequireSupportedServer(int server_version_num);

// The query behind ReadDatabaseProperties for a server version (pg_database's locale columns
// differ between 13-14, 15, 16 and 17-18). Throws for unsupported versions.
std::string DatabasePropertiesQuery(int server_version_num);
format::DatabaseProperties ReadDatabaseProperties(PgConnection& conn);

// COPY "s"."t" ("a", "b") TO STDOUT / FROM STDIN, text format, in `encoding` (the database's
// own, so no conversion ever touches the bytes).
std::string CopyToSql(const std::string& schema, const std::string& name, const std::vector<std::string>& columns,
                      const std::string& encoding);
std::string CopyFromSql(const std::string& schema, const std::string& name, const std::vector<std::string>& columns,
                        const std::string& encoding, bool freeze = false);

}  // namespace dhanbak::pg
