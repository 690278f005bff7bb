#include "pg/source_catalog.hpp"

#include <map>

#include "dhanbak/error.hpp"

namespace dhanbak::pg {
namespace {

std::vector<std::string> ParseTextArray(const std::string& text) {
  // pg text[] output: {a,"b c","d\"e"}; elements with special characters are double-quoted.
  std::vector<std::string> out;
  if (text.size() < 2) return out;
  size_t i = 1;
  while (i < text.size() - 1) {
    std::string elem;
    if (text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        elem += text[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < text.size() - 1 && text[i] != ',') elem += text[i++];
    }
    out.push_back(elem);
    if (i < text.size() && text[i] == ',') ++i;
  }
  return out;
}

std::string ColumnList(const std::vector<std::string>& columns) {
  if (columns.empty()) return "";
  std::string out = " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) out += ", ";
    out += QuoteIdent(columns[i]);
  }
  return out + ")";
}

}  // namespace

std::vector<TableInfo> ListDataTables(PgConnection& conn) {
  auto rows = conn.Query(R"SQL(
    SELECT c.oid::text, n.nspname, c.relname, c.relpersistence::text,
           coalesce(pg_catalog.pg_table_size(c.oid), 0)::text
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND c.relpersistence <> 't'
      AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY coalesce(pg_catalog.pg_table_size(c.oid), 0) DESC, n.nspname, c.relname)SQL");
  // pg_table_size is NULL for a table dropped since the snapshot (it reads the current catalog);
  // the backup then fails cleanly when it locks the table, naming it.
  std::vector<TableInfo> tables;
  std::map<std::string, size_t> by_oid;
  for (auto& r : rows) {
    TableInfo t;
    t.oid = *r[0];
    t.schema = *r[1];
    t.name = *r[2];
    t.persistence = (*r[3])[0];
    t.size_bytes = std::stoll(*r[4]);
    by_oid[t.oid] = tables.size();
    tables.push_back(std::move(t));
  }
  auto cols = conn.Query(R"SQL(
    SELECT a.attrelid::text, a.attname FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
    ORDER BY a.attrelid, a.attnum)SQL");
  for (auto& r : cols) {
    auto it = by_oid.find(*r[0]);
    if (it != by_oid.end()) tables[it->second].columns.push_back(*r[1]);
  }
  return tables;
}

void RequireSupportedServer(int server_version_num) {
  int major = server_version_num / 10000;
  if (major < kOldestSupportedMajor || major > kNewestSupportedMajor) {
    throw Error(ErrorCode::kPg, "PostgreSQL " + std::to_string(major) + " is not supported: dhanbak works with " +
                                    std::to_string(kOldestSupportedMajor) + " to " +
                                    std::to_string(kNewestSupportedMajor));
  }
}

std::string DatabasePropertiesQuery(int server_version_num) {
  RequireSupportedServer(server_version_num);
  int major = server_version_num / 10000;
  // Locale provider and ICU locale: pg_database gained datlocprovider and daticulocale in 15,
  // daticurules in 16, and 17 renamed daticulocale to datlocale (also used by the builtin provider).
  std::string provider = major >= 15 ? "d.datlocprovider::text" : "'c'";
  std::string locale = major >= 17 ? "coalesce(d.datlocale, '')" : major >= 15 ? "coalesce(d.daticulocale, '')" : "''";
  std::string rules = major >= 16 ? "coalesce(d.daticurules, '')" : "''";
  return "SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, " + provider + ", " + locale +
         ", pg_catalog.pg_get_userbyid(d.datdba), d.datconnlimit::text, coalesce(d.datacl::text, ''), "
         "pg_catalog.shobj_description(d.oid, 'pg_database'), " + rules +
         " FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()";
}

format::DatabaseProperties ReadDatabaseProperties(PgConnection& conn) {
  auto rows = conn.Query(DatabasePropertiesQuery(conn.server_version_num()));
  format::DatabaseProperties p;
  const auto& r = rows.at(0);
  p.encoding = *r[0];
  p.collate = *r[1];
  p.ctype = *r[2];
  p.locale_provider = *r[3];
  p.icu_locale = *r[4];
  p.owner = *r[5];
  p.connection_limit = std::stoi(*r[6]);
  p.acl = *r[7];
  p.has_comment = r[8].has_value();
  p.comment = r[8].value_or("");
  p.icu_rules = *r[9];
  auto settings = conn.Query(R"SQL(
    SELECT coalesce(pg_catalog.pg_get_userbyid(s.setrole), ''), s.setconfig::text
    FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
    WHERE d.datname = pg_catalog.current_database()
    ORDER BY s.setrole = 0 DESC, 1)SQL");
  for (auto& s : settings) {
    format::RoleSetting rs;
    rs.role = *s[0];
    rs.settings = ParseTextArray(*s[1]);
    // setrole = 0 is "all roles": pg_get_userbyid(0) returns "unknown (OID=0)".
    if (rs.role.starts_with("unknown (OID=0)")) rs.role.clear();
    p.settings.push_back(std::move(rs));
  }
  return p;
}

std::string CopyToSql(const std::string& schema, const std::string& name, const std::vector<std::string>& columns,
                      const std::string& encoding) {
  return "COPY " + QualifiedName(schema, name) + ColumnList(columns) + " TO STDOUT WITH (ENCODING " +
         QuoteLiteral(encoding) + ")";
}

std::string CopyFromSql(const std::string& schema, const std::string& name, const std::vector<std::string>& columns,
                        const std::string& encoding, bool freeze) {
  return "COPY " + QualifiedName(schema, name) + ColumnList(columns) + " FROM STDIN WITH (ENCODING " +
         QuoteLiteral(encoding) + (freeze ? ", FREEZE" : "") + ")";
}

}  // namespace dhanbak::pg
