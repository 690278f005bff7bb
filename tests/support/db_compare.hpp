// The database checker behind every fidelity test: are two databases the same database?
//
// CompareDatabases looks at everything a faithful restore must reproduce and reports each
// difference in words a human can act on:
//   schema     `pg_dump --schema-only` of both, normalised (comments, blank lines and the
//              random \restrict / \unrestrict keys dropped), shown as a unified diff excerpt;
//   data       every ordinary table (partitions, inheritance children — read with ONLY —,
//              unlogged and zero-column tables) and every populated materialized view: row
//              count and an order-independent hash of the rows' text, computed server-side
//              with fixed output settings; for small tables a few differing rows are shown;
//   sequences  last_value and is_called;
//   large objects  oid, owner, contents (md5), ACL, comment;
//   database   encoding, collate, ctype, locale provider, ICU locale, owner, connection
//              limit, ACL, comment, and the pg_db_role_setting entries (ALTER DATABASE SET and
//              ALTER ROLE ... IN DATABASE SET).
// Database names themselves are not compared, so a database restored under another name
// compares equal to its source.
#pragma once

#include <string>
#include <vector>

#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"

namespace dhanbak::test {

struct CompareResult {
  bool equal = true;
  std::vector<std::string> differences;  // one entry per difference found, human-readable

  // All differences, one per line (for CHECK_MESSAGE / failure output).
  std::string Summary() const;
};

struct CompareOptions {
  bool schema = true;
  bool data = true;
  bool sequences = true;
  bool large_objects = true;
  bool database_properties = true;
  // When non-empty, only these tables (as "schema.table", unquoted names) are compared by the
  // data check: e.g. after `restore --table`. The other checks are unaffected.
  std::vector<std::string> tables;
};

// Compares database `db_a` of `cluster` with database `db_b`. `db_b` lives on the same
// cluster unless `conninfo_b` is given: then it is a libpq keyword/value conninfo for the
// other server (without dbname; `dbname=db_b` is appended). Throws std::runtime_error if either
// database cannot be reached or a catalog query fails.
CompareResult CompareDatabases(PgCluster& cluster, const std::string& db_a, const std::string& db_b,
                               const std::string& conninfo_b = "", const CompareOptions& options = {});

// The normalised `pg_dump --schema-only` text of a database (what the schema check compares).
std::string NormalizedSchema(PgCluster& cluster, const std::string& conninfo);

// Restores backup `backup_id` of `db` (the newest when empty) into `target`, requires it to
// succeed, compares it with `db`, and drops it.
void RequireRestoresEqual(PgCluster& cluster, const DhanbakEnv& env, const std::string& db,
                          const std::string& backup_id, const std::string& target);

}  // namespace dhanbak::test
