#include "support/in_process_sql.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace dhanbak::test {
namespace {

bool IdentifierChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// Skips whitespace and comments (-- to the end of the line, /* */ nested as the server nests them)
// from `i`. Returns false on an unterminated comment.
bool SkipSpaceAndComments(const std::string& s, size_t& i) {
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s.compare(i, 2, "--") == 0) {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (s.compare(i, 2, "/*") == 0) {
      int depth = 0;
      do {
        if (s.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (s.compare(i, 2, "*/") == 0) {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < s.size());
      if (depth > 0) return false;
    } else {
      break;
    }
  }
  return true;
}

// Moves `i` past the quoted text that starts at `i` ('...', "..." or $tag$...$tag$). Returns false
// when it is unterminated or when a '$' does not open a dollar quote.
bool SkipQuoted(const std::string& s, size_t& i) {
  const char open = s[i];
  if (open == '\'' || open == '"') {
    for (++i; i < s.size(); ++i) {
      if (s[i] != open) continue;
      if (i + 1 < s.size() && s[i + 1] == open) {  // '' or "" inside: a quote character
        ++i;
        continue;
      }
      ++i;
      return true;
    }
    return false;
  }
  size_t end = i + 1;
  while (end < s.size() && s[end] != '$' && IdentifierChar(s[end])) ++end;
  if (end >= s.size() || s[end] != '$' || (end > i + 1 && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
    return false;
  }
  const std::string tag = s.substr(i, end - i + 1);
  const size_t close = s.find(tag, end + 1);
  if (close == std::string::npos) return false;
  i = close + tag.size();
  return true;
}

bool EnvironmentDiffersFromPsqlChild() {
  for (const std::string& name : PsqlChildUnsetEnvironment()) {
    if (std::getenv(name.c_str()) != nullptr) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& PsqlChildUnsetEnvironment() {
  static const std::vector<std::string> names = {"PGOPTIONS",   "PGSERVICE",   "PGSERVICEFILE", "PGSSLMODE",
                                                 "PGTZ",        "PGDATESTYLE", "PGPASSFILE"};
  return names;
}

bool IsSingleStatement(const std::string& sql) {
  if (sql.find('\\') != std::string::npos) return false;  // a psql meta-command, or E'' escapes
  size_t i = 0;
  if (!SkipSpaceAndComments(sql, i)) return false;
  const size_t first = i;
  while (i < sql.size() && IdentifierChar(sql[i])) ++i;
  std::string keyword = sql.substr(first, i - first);
  for (char& c : keyword) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (keyword == "copy") return false;  // psql streams its data from or to the terminal
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || (c == '$' && (i == 0 || !IdentifierChar(sql[i - 1])))) {
      if (!SkipQuoted(sql, i)) return false;
    } else if (sql.compare(i, 2, "--") == 0 || sql.compare(i, 2, "/*") == 0) {
      if (!SkipSpaceAndComments(sql, i)) return false;
    } else if (c == ';') {
      ++i;
      if (!SkipSpaceAndComments(sql, i)) return false;
      return i == sql.size();
    } else {
      ++i;
    }
  }
  return true;
}

std::optional<InProcessSqlResult> TryRunInProcess(const std::string& conninfo, const std::string& sql) {
  if (!IsSingleStatement(sql) || EnvironmentDiffersFromPsqlChild()) return std::nullopt;
  // psql's own defaults: its application name, and the client encoding ClientOptions() gives it.
  const std::string full = conninfo + " client_encoding=UTF8 fallback_application_name=psql";
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(full.c_str()), &PQfinish);
  InProcessSqlResult result;
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    result.connection_failed = true;
    result.err = std::string("psql: error: ") + PQerrorMessage(conn.get());
    return result;
  }
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);  // psql's go to its stderr
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(res.get());
  if (status == PGRES_TUPLES_OK) {
    const int fields = PQnfields(res.get());
    const int rows = fields > 0 ? PQntuples(res.get()) : 0;  // psql prints nothing for rows of no column
    for (int r = 0; r < rows; ++r) {
      for (int f = 0; f < fields; ++f) {
        if (f > 0) result.out += '|';
        if (!PQgetisnull(res.get(), r, f)) result.out.append(PQgetvalue(res.get(), r, f), PQgetlength(res.get(), r, f));
      }
      result.out += '\n';
    }
  } else if (status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY) {
    result.err = res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn.get());
    return result;
  }
  result.ok = true;
  return result;
}

}  // namespace dhanbak::test
