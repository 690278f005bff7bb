#include "pg/database_properties.hpp"

#include <algorithm>
#include <cctype>

#include "common/encoding.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"

namespace dhanbak::pg {
namespace {

// Settings whose value is a list of (possibly double-quoted) identifiers: each element must be
// given as its own literal, as pg_dump's makeAlterConfigCommand does (GUC_LIST_QUOTE).
bool IsListSetting(const std::string& name) {
  static const char* kList[] = {"search_path", "temp_tablespaces", "session_preload_libraries",
                                "shared_preload_libraries", "local_preload_libraries"};
  for (const char* l : kList)
    if (AsciiLower(name) == l) return true;
  return false;
}

std::vector<std::string> SplitGucList(const std::string& value) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && std::isspace(static_cast<unsigned char>(value[i]))) ++i;
    std::string elem;
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (i < value.size()) {
        if (value[i] == '"') {
          if (i + 1 < value.size() && value[i + 1] == '"') {
            elem += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        elem += value[i++];
      }
      while (i < value.size() && value[i] != ',') ++i;
    } else {
      while (i < value.size() && value[i] != ',') elem += value[i++];
      while (!elem.empty() && std::isspace(static_cast<unsigned char>(elem.back()))) elem.pop_back();
    }
    out.push_back(elem);
    if (i < value.size() && value[i] == ',') ++i;
  }
  return out;
}

struct AclItem {
  std::string grantee;  // empty = PUBLIC
  std::vector<std::pair<std::string, bool>> privileges;  // name, with grant option
};

// Reads a role name that may be double-quoted (with "" for a quote) up to `stop`.
std::string ReadRoleName(const std::string& s, size_t& j, char stop) {
  std::string name;
  if (j < s.size() && s[j] == '"') {
    for (++j; j < s.size(); ++j) {
      if (s[j] == '"' && j + 1 < s.size() && s[j + 1] == '"') {
        name += '"';
        ++j;
      } else if (s[j] == '"') {
        ++j;
        break;
      } else {
        name += s[j];
      }
    }
  } else {
    while (j < s.size() && s[j] != stop) name += s[j++];
  }
  return name;
}

// Parses the text form of aclitem[]: {=Tc/owner,owner=CTc/owner,"\"odd name\"=c/owner"}.
// Array elements with special characters are double-quoted with backslash escapes; inside an
// element, role names with special characters are double-quoted again.
std::vector<AclItem> ParseAcl(const std::string& acl) {
  std::vector<AclItem> items;
  size_t i = 1;
  while (i < acl.size() && acl[i] != '}') {
    std::string elem;
    if (acl[i] == '"') {
      for (++i; i < acl.size() && acl[i] != '"'; ++i) {
        if (acl[i] == '\\' && i + 1 < acl.size()) ++i;
        elem += acl[i];
      }
      ++i;
    } else {
      while (i < acl.size() && acl[i] != ',' && acl[i] != '}') elem += acl[i++];
    }
    if (i < acl.size() && acl[i] == ',') ++i;
    AclItem item;
    size_t j = 0;
    item.grantee = ReadRoleName(elem, j, '=');
    if (j < elem.size() && elem[j] == '=') ++j;
    while (j < elem.size() && elem[j] != '/') {
      char c = elem[j++];
      bool grant = j < elem.size() && elem[j] == '*';
      if (grant) ++j;
      const char* priv = c == 'C' ? "CREATE" : c == 'T' ? "TEMPORARY" : c == 'c' ? "CONNECT" : nullptr;
      if (priv) item.privileges.emplace_back(priv, grant);
    }
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace

std::string SettingClause(const std::string& setting) {
  size_t eq = setting.find('=');
  std::string name = setting.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : setting.substr(eq + 1);
  std::string out = QuoteIdent(name) + " TO ";
  if (IsListSetting(name)) {
    auto elems = SplitGucList(value);
    for (size_t k = 0; k < elems.size(); ++k) out += (k ? ", " : "") + QuoteLiteral(elems[k]);
    if (elems.empty()) out += "''";
  } else {
    out += QuoteLiteral(value);
  }
  return out;
}

std::string CreateDatabaseSql(const std::string& name, const format::DatabaseProperties& p,
                              int target_version_num) {
  int major = target_version_num / 10000;
  auto refuse = [&](const std::string& what, int needs) {
    throw Error(ErrorCode::kInvalidArgument, "the backup's database uses " + what + ", which PostgreSQL " +
                                                 std::to_string(major) + " cannot create (it needs " +
                                                 std::to_string(needs) + " or newer); restore to a newer server");
  };
  std::string sql = "CREATE DATABASE " + QuoteIdent(name) + " WITH TEMPLATE = template0 ENCODING = " +
                    QuoteLiteral(p.encoding);
  if (p.locale_provider == "i") {
    if (major < 15) refuse("the ICU locale provider", 15);
    sql += " LOCALE_PROVIDER = icu ICU_LOCALE = " + QuoteLiteral(p.icu_locale);
    if (!p.icu_rules.empty()) {
      if (major < 16) refuse("ICU collation rules", 16);
      sql += " ICU_RULES = " + QuoteLiteral(p.icu_rules);
    }
  } else if (p.locale_provider == "b") {
    if (major < 17) refuse("the builtin locale provider", 17);
    sql += " LOCALE_PROVIDER = builtin BUILTIN_LOCALE = " + QuoteLiteral(p.icu_locale);
  } else if (p.locale_provider == "c" || p.locale_provider.empty()) {
    if (major >= 15) sql += " LOCALE_PROVIDER = libc";
  } else {
    throw Error(ErrorCode::kCorruption, "unknown locale provider '" + p.locale_provider + "' in the backup");
  }
  sql += " LC_COLLATE = " + QuoteLiteral(p.collate) + " LC_CTYPE = " + QuoteLiteral(p.ctype);
  return sql;
}

std::vector<std::string> DatabasePropertiesSql(const std::string& name, const format::DatabaseProperties& p) {
  std::vector<std::string> sql;
  std::string db = QuoteIdent(name);
  if (!p.owner.empty()) sql.push_back("ALTER DATABASE " + db + " OWNER TO " + QuoteIdent(p.owner));
  if (p.connection_limit != -1) {
    sql.push_back("ALTER DATABASE " + db + " CONNECTION LIMIT = " + std::to_string(p.connection_limit));
  }
  if (p.has_comment) sql.push_back("COMMENT ON DATABASE " + db + " IS " + QuoteLiteral(p.comment));
  if (!p.acl.empty()) {
    // A non-default ACL replaces the defaults (owner: all, PUBLIC: CONNECT and TEMPORARY).
    sql.push_back("REVOKE ALL ON DATABASE " + db + " FROM PUBLIC");
    if (!p.owner.empty()) sql.push_back("REVOKE ALL ON DATABASE " + db + " FROM " + QuoteIdent(p.owner));
    for (const auto& item : ParseAcl(p.acl)) {
      std::string to = item.grantee.empty() ? "PUBLIC" : QuoteIdent(item.grantee);
      for (const auto& [priv, grant] : item.privileges) {
        sql.push_back("GRANT " + priv + " ON DATABASE " + db + " TO " + to + (grant ? " WITH GRANT OPTION" : ""));
      }
    }
  }
  for (const auto& rs : p.settings) {
    std::string prefix = rs.role.empty() ? "ALTER DATABASE " + db + " SET "
                                         : "ALTER ROLE " + QuoteIdent(rs.role) + " IN DATABASE " + db + " SET ";
    for (const auto& s : rs.settings) sql.push_back(prefix + SettingClause(s));
  }
  return sql;
}

}  // namespace dhanbak::pg
