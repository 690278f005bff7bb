#include "support/db_compare.hpp"

#include <doctest/doctest.h>

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "support/process.hpp"

namespace dhanbak::test {
namespace {

using Value = std::optional<std::string>;  // nullopt = SQL NULL
using Row = std::vector<Value>;

// Output settings fixed on both sides, so that a database's own defaults (ALTER DATABASE SET
// DateStyle ...) cannot make equal data look different, or different data look equal.
constexpr const char* kSessionSetup =
    "SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = postgres; "
    "SET TimeZone = 'UTC'; SET bytea_output = hex; SET lc_monetary = 'C'; SET row_security = off; "
    "SET standard_conforming_strings = on; SET xmloption = content; SET search_path = pg_catalog; "
    "SET statement_timeout = 0; SET default_transaction_read_only = on; "
    // Hashes are computed server-side on the database's own bytes; UTF8 here only makes the
    // names and sample rows in messages readable whatever the database's encoding.
    "SET client_encoding = 'UTF8'";

// Tables whose differing rows are listed; larger ones only get counts and hashes.
constexpr long kRowSampleLimit = 50000;
constexpr size_t kShownRows = 3;
constexpr size_t kShownRowChars = 300;

std::string Show(const Value& v) {
  if (!v) return "NULL";
  std::string s = *v;
  if (s.size() > kShownRowChars) s = s.substr(0, kShownRowChars) + "...(" + std::to_string(v->size()) + " bytes)";
  return "'" + s + "'";
}

class Connection {
 public:
  Connection(const std::string& conninfo, const std::string& label) : label_(label) {
    conn_ = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error("CompareDatabases: cannot connect to " + label + ": " + message);
    }
    Exec(kSessionSetup);
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::vector<Row> Exec(const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn_, sql.c_str()), &PQclear);
    ExecStatusType status = PQresultStatus(res.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      throw std::runtime_error("CompareDatabases: query failed in " + label_ + ": " + PQresultErrorMessage(res.get()) +
                               "query: " + sql.substr(0, 500));
    }
    std::vector<Row> rows;
    int n_rows = PQntuples(res.get()), n_cols = PQnfields(res.get());
    rows.reserve(static_cast<size_t>(n_rows));
    for (int r = 0; r < n_rows; ++r) {
      Row row;
      for (int c = 0; c < n_cols; ++c) {
        if (PQgetisnull(res.get(), r, c)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(PQgetvalue(res.get(), r, c), static_cast<size_t>(PQgetlength(res.get(), r, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  PGconn* conn_ = nullptr;
  std::string label_;
};

// Rows keyed by their first column (which must be unique); the rest are the compared fields.
std::map<std::string, Row> Keyed(const std::vector<Row>& rows) {
  std::map<std::string, Row> keyed;
  for (const auto& row : rows) keyed[row.at(0).value_or("NULL")] = Row(row.begin() + 1, row.end());
  return keyed;
}

// Reports keys present on one side only and fields that differ.
void CompareKeyed(const std::string& what, const std::vector<std::string>& field_names,
                  const std::map<std::string, Row>& a, const std::map<std::string, Row>& b, const std::string& name_a,
                  const std::string& name_b, std::vector<std::string>& differences) {
  for (const auto& [key, row_a] : a) {
    auto it = b.find(key);
    if (it == b.end()) {
      differences.push_back(what + " " + key + ": in \"" + name_a + "\" but missing from \"" + name_b + "\"");
      continue;
    }
    for (size_t i = 0; i < field_names.size() && i < row_a.size(); ++i) {
      if (row_a[i] != it->second[i]) {
        differences.push_back(what + " " + key + ": " + field_names[i] + " " + Show(row_a[i]) + " in \"" + name_a +
                              "\" but " + Show(it->second[i]) + " in \"" + name_b + "\"");
      }
    }
  }
  for (const auto& [key, row_b] : b) {
    if (a.count(key) == 0) {
      differences.push_back(what + " " + key + ": in \"" + name_b + "\" but not in \"" + name_a + "\"");
    }
  }
}

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/dhanbak-schema-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

void CompareSchema(PgCluster& cluster, const std::string& conninfo_a, const std::string& conninfo_b,
                   const std::string& name_a, const std::string& name_b, std::vector<std::string>& differences) {
  std::string schema_a = NormalizedSchema(cluster, conninfo_a);
  std::string schema_b = NormalizedSchema(cluster, conninfo_b);
  if (schema_a == schema_b) return;
  std::string file_a = WriteTemp(schema_a), file_b = WriteTemp(schema_b);
  ProcessResult diff = RunProcess({"diff", "-U2", "--label", name_a, "--label", name_b, file_a, file_b});
  std::remove(file_a.c_str());
  std::remove(file_b.c_str());
  std::istringstream lines(diff.out);
  std::string line, excerpt;
  for (int i = 0; i < 60 && std::getline(lines, line); ++i) excerpt += line + "\n";
  differences.push_back("schema (pg_dump --schema-only) differs:\n" + excerpt);
}

struct Relation {
  std::string name;  // quoted, qualified: usable in SQL and readable in messages
  std::string plain_name;  // schema.table unquoted, for CompareOptions::tables
  bool is_matview = false;
  bool populated = true;
};

std::map<std::string, Relation> ListRelations(Connection& conn) {
  std::map<std::string, Relation> relations;
  for (const auto& row : conn.Exec(
           "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname || '.' || c.relname, "
           "c.relkind = 'm', c.relispopulated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' "
           "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)' "
           "ORDER BY 1")) {
    relations[*row[0]] = Relation{*row[0], *row[1], *row[2] == "t", *row[3] == "t"};
  }
  return relations;
}

std::string RowsSource(const Relation& rel) {
  // ONLY: a parent of an inheritance tree holds its own rows, its children theirs.
  return rel.is_matview ? rel.name + " t" : "ONLY " + rel.name + " t";
}

std::map<std::string, long> RowMultiset(Connection& conn, const Relation& rel) {
  std::map<std::string, long> rows;
  for (const auto& row : conn.Exec("SELECT t::text FROM " + RowsSource(rel))) ++rows[row[0].value_or("NULL")];
  return rows;
}

void DescribeRowDifferences(Connection& conn_a, Connection& conn_b, const Relation& rel, const std::string& name_a,
                            const std::string& name_b, std::string& message) {
  std::map<std::string, long> rows_a = RowMultiset(conn_a, rel), rows_b = RowMultiset(conn_b, rel);
  auto list_missing = [&](const std::map<std::string, long>& from, const std::map<std::string, long>& other,
                          const std::string& label) {
    size_t shown = 0;
    for (const auto& [text, count] : from) {
      auto it = other.find(text);
      long extra = count - (it == other.end() ? 0 : it->second);
      if (extra <= 0) continue;
      if (shown++ == kShownRows) {
        message += "\n    ...";
        break;
      }
      message += "\n    only in \"" + label + "\": " + Show(text) + (extra > 1 ? " x" + std::to_string(extra) : "");
    }
  };
  list_missing(rows_a, rows_b, name_a);
  list_missing(rows_b, rows_a, name_b);
}

void CompareData(Connection& conn_a, Connection& conn_b, const std::string& name_a, const std::string& name_b,
                 const CompareOptions& options, std::vector<std::string>& differences) {
  std::map<std::string, Relation> rels_a = ListRelations(conn_a), rels_b = ListRelations(conn_b);
  std::set<std::string> wanted(options.tables.begin(), options.tables.end());
  auto selected = [&](const Relation& rel) { return wanted.empty() || wanted.count(rel.plain_name) > 0; };
  for (const auto& [key, rel] : rels_b) {
    if (selected(rel) && rels_a.count(key) == 0) {
      differences.push_back("table " + key + ": in \"" + name_b + "\" but not in \"" + name_a + "\"");
    }
  }
  for (const auto& [key, rel] : rels_a) {
    if (!selected(rel)) continue;
    auto it = rels_b.find(key);
    if (it == rels_b.end()) {
      differences.push_back("table " + key + ": in \"" + name_a + "\" but missing from \"" + name_b + "\"");
      continue;
    }
    if (rel.is_matview != it->second.is_matview) {
      differences.push_back("relation " + key + ": materialized view on one side only");
      continue;
    }
    if (rel.populated != it->second.populated) {
      differences.push_back("materialized view " + key + ": populated in \"" + (rel.populated ? name_a : name_b) +
                            "\" but not in \"" + (rel.populated ? name_b : name_a) + "\"");
      continue;
    }
    if (!rel.populated) continue;
    // Order-independent: hash each row's text, then hash the sorted row hashes. Hashing per
    // row keeps the aggregate small (32 bytes a row) even for multi-GB tables.
    const std::string sql = "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h COLLATE \"C\")), '') "
                            "FROM (SELECT md5(t::text) AS h FROM " + RowsSource(rel) + ") s";
    Row a = conn_a.Exec(sql).at(0), b = conn_b.Exec(sql).at(0);
    if (a == b) continue;
    std::string message = "table " + key + ": " + *a[0] + " rows in \"" + name_a + "\", " + *b[0] + " rows in \"" +
                          name_b + "\"" + (a[0] == b[0] ? ", contents differ" : "");
    if (std::stol(*a[0]) <= kRowSampleLimit && std::stol(*b[0]) <= kRowSampleLimit) {
      DescribeRowDifferences(conn_a, conn_b, rel, name_a, name_b, message);
    }
    differences.push_back(message);
  }
}

std::vector<Row> SequenceValues(Connection& conn) {
  std::vector<Row> names = conn.Exec(
      "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)' ORDER BY 1");
  if (names.empty()) return {};
  std::string sql;
  for (const auto& row : names) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT " + QuoteLiteral(*row[0]) + ", last_value::text, is_called::text FROM " + *row[0];
  }
  return conn.Exec(sql);
}

void CompareSequences(Connection& conn_a, Connection& conn_b, const std::string& name_a, const std::string& name_b,
                      std::vector<std::string>& differences) {
  CompareKeyed("sequence", {"last_value", "is_called"}, Keyed(SequenceValues(conn_a)), Keyed(SequenceValues(conn_b)),
               name_a, name_b, differences);
}

void CompareLargeObjects(Connection& conn_a, Connection& conn_b, const std::string& name_a, const std::string& name_b,
                         std::vector<std::string>& differences) {
  const std::string sql =
      "SELECT l.oid::text, pg_get_userbyid(l.lomowner), md5(lo_get(l.oid)), l.lomacl::text, "
      "obj_description(l.oid, 'pg_largeobject') FROM pg_largeobject_metadata l ORDER BY l.oid";
  CompareKeyed("large object", {"owner", "md5", "acl", "comment"}, Keyed(conn_a.Exec(sql)), Keyed(conn_b.Exec(sql)),
               name_a, name_b, differences);
}

void CompareDatabaseProperties(Connection& conn_a, Connection& conn_b, const std::string& name_a,
                               const std::string& name_b, std::vector<std::string>& differences) {
  const std::string props =
      "SELECT 'database', pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, d.datlocprovider::text, "
      "d.daticulocale, pg_get_userbyid(d.datdba), d.datconnlimit::text, d.datacl::text, "
      "shobj_description(d.oid, 'pg_database') FROM pg_database d WHERE d.datname = current_database()";
  CompareKeyed("property of", {"encoding", "datcollate", "datctype", "datlocprovider", "daticulocale", "owner",
                               "datconnlimit", "datacl", "comment"},
               Keyed(conn_a.Exec(props)), Keyed(conn_b.Exec(props)), name_a, name_b, differences);
  // Settings are compared as a sorted set: the order of ALTER ... SET statements is not a
  // property of the database.
  const std::string settings =
      "SELECT CASE WHEN s.setrole = 0 THEN 'ALTER DATABASE SET' ELSE 'ALTER ROLE ' || quote_ident(r.rolname) || "
      "' IN DATABASE SET' END, array(SELECT x FROM unnest(s.setconfig) x ORDER BY x)::text "
      "FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole "
      "WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1";
  CompareKeyed("settings", {"values"}, Keyed(conn_a.Exec(settings)), Keyed(conn_b.Exec(settings)), name_a, name_b,
               differences);
}

}  // namespace

std::string CompareResult::Summary() const {
  if (equal) return "databases are equal";
  std::string text = std::to_string(differences.size()) + " difference(s):";
  for (const auto& d : differences) text += "\n  - " + d;
  return text;
}

std::string NormalizedSchema(PgCluster& cluster, const std::string& conninfo) {
  ProcessOptions options;
  options.timeout = std::chrono::minutes(10);
  options.unset_env = {"PGOPTIONS"};
  std::string dump = RunOrThrow({cluster.Tool("pg_dump"), "--schema-only", "-d", conninfo}, options);
  std::istringstream in(dump);
  std::string line, normalized;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("--", 0) == 0) continue;
    // pg_dump >= 15.14 brackets the script with \restrict KEY / \unrestrict KEY, KEY random.
    if (line.rfind("\\restrict ", 0) == 0 || line.rfind("\\unrestrict ", 0) == 0) continue;
    normalized += line;
    normalized += '\n';
  }
  return normalized;
}

CompareResult CompareDatabases(PgCluster& cluster, const std::string& db_a, const std::string& db_b,
                               const std::string& conninfo_b, const CompareOptions& options) {
  const std::string conninfo_a = cluster.Conninfo(db_a);
  const std::string full_conninfo_b =
      conninfo_b.empty() ? cluster.Conninfo(db_b) : conninfo_b + " dbname=" + ConninfoValue(db_b);
  CompareResult result;
  Connection conn_a(conninfo_a, "\"" + db_a + "\""), conn_b(full_conninfo_b, "\"" + db_b + "\"");
  if (options.database_properties) CompareDatabaseProperties(conn_a, conn_b, db_a, db_b, result.differences);
  if (options.schema) CompareSchema(cluster, conninfo_a, full_conninfo_b, db_a, db_b, result.differences);
  if (options.data) CompareData(conn_a, conn_b, db_a, db_b, options, result.differences);
  if (options.sequences) CompareSequences(conn_a, conn_b, db_a, db_b, result.differences);
  if (options.large_objects) CompareLargeObjects(conn_a, conn_b, db_a, db_b, result.differences);
  result.equal = result.differences.empty();
  return result;
}

void RequireRestoresEqual(PgCluster& cluster, const DhanbakEnv& env, const std::string& db,
                          const std::string& backup_id, const std::string& target) {
  cluster.DropDatabase(target);
  ProcessResult r = backup_id.empty() ? env.Run({"restore", db, "--at", "latest", "--target-db", target})
                                      : env.Run({"restore", db, "--backup", backup_id, "--target-db", target});
  REQUIRE_MESSAGE(r.exit_code == 0, "restore of " << (backup_id.empty() ? "the newest backup" : backup_id)
                                                  << " failed:\n" << r.out << r.err);
  CompareResult cmp = CompareDatabases(cluster, db, target);
  CHECK_MESSAGE(cmp.equal, cmp.Summary());
  cluster.DropDatabase(target);
}

}  // namespace dhanbak::test
