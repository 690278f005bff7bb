// The real column layout of a table, as the server stores it: every non-dropped column in
// attnum order with its type, collation, NOT NULL, default or generation expression,
// identity, and (for inheritance children) whether it is defined locally and how many parents
// it is inherited from. Verification compares these directly, because pg_dump's text does not
// show column order of inherited tables faithfully.
//
// Inheritance children whose column order `CREATE TABLE ... INHERITS` cannot reproduce (their
// columns came before the parents', e.g. after `ALTER TABLE ... INHERIT`) are "rebuilt tables":
// the backup stores their definition as pg_dump --binary-upgrade writes it (every column in
// order, then INHERIT), and the restore uses it instead of pg_dump's ordinary definition.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace dhanbak::pg {

struct ColumnLayouts {
  std::map<std::string, std::vector<std::string>> by_oid;  // table oid → one line per column
  std::map<std::pair<std::string, std::string>, std::string> oid_by_name;  // (schema, table) → oid
  std::vector<std::string> rebuild_oids;                   // children whose order needs a rebuild
};

// Layouts of every ordinary table outside the system schemas, and which of them need a rebuild.
ColumnLayouts ReadColumnLayouts(PgConnection& conn);

// The order `CREATE TABLE child (...) INHERITS (parents...)` gives: the parents' columns
// merged in parent order, then the child's own columns in its order.
std::vector<std::string> InheritsColumnOrder(const std::vector<std::vector<std::string>>& parent_columns,
                                             const std::vector<std::string>& child_columns);

// First difference between two layouts of table `table`, or nullopt when equal.
std::optional<std::string> CompareLayout(const std::string& table, const std::vector<std::string>& expected,
                                         const std::vector<std::string>& actual);

}  // namespace dhanbak::pg
