#include "pg/rebuilt_tables.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"

namespace dhanbak::pg {
namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Statements of a binary-upgrade table definition that only make sense inside pg_upgrade.
bool UpgradeOnly(const std::string& stmt) {
  return StartsWith(stmt, "SELECT pg_catalog.binary_upgrade_") || StartsWith(stmt, "UPDATE pg_catalog.pg_class") ||
         StartsWith(stmt, "SELECT pg_catalog.set_config") || StartsWith(stmt, "SET ") || StartsWith(stmt, "\\");
}

bool CatalogUpdate(const std::string& stmt) { return StartsWith(stmt, "UPDATE pg_catalog."); }

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + path + "'");
}

}  // namespace

std::map<std::string, std::string> TableDefinitions(const std::vector<format::TableEntry>& tables) {
  std::map<std::string, std::string> out;
  for (const auto& t : tables) {
    if (!t.definition.empty()) out[t.oid] = t.definition;
  }
  return out;
}

std::vector<std::string> SplitSqlStatements(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\r\n");
    if (b != std::string::npos) {
      size_t e = cur.find_last_not_of(" \t\r\n");
      out.push_back(cur.substr(b, e - b + 1));
    }
    cur.clear();
  };
  size_t i = 0, n = text.size();
  while (i < n) {
    char c = text[i];
    bool line_start = cur.find_first_not_of(" \t\r\n") == std::string::npos;
    if (c == '-' && i + 1 < n && text[i + 1] == '-') {  // comment to end of line
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (c == '\\' && line_start) {  // psql meta-command: the whole line
      size_t e = text.find('\n', i);
      if (e == std::string::npos) e = n;
      cur = text.substr(i, e - i);
      flush();
      i = e;
      continue;
    }
    if (c == '\'' || c == '"') {
      bool escapes = c == '\'' && i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e');
      cur += text[i++];
      while (i < n) {
        if (escapes && text[i] == '\\' && i + 1 < n) {
          cur += text[i++];
          cur += text[i++];
          continue;
        }
        if (text[i] == c) {
          if (i + 1 < n && text[i + 1] == c) {
            cur += text[i++];
            cur += text[i++];
            continue;
          }
          cur += text[i++];
          break;
        }
        cur += text[i++];
      }
      continue;
    }
    if (c == '$') {
      size_t e = i + 1;
      while (e < n && (std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '_')) ++e;
      if (e < n && text[e] == '$') {
        std::string tag = text.substr(i, e - i + 1);
        size_t close = text.find(tag, e + 1);
        size_t end = close == std::string::npos ? n : close + tag.size();
        cur += text.substr(i, end - i);
        i = end;
        continue;
      }
    }
    if (c == ';') {
      cur += c;
      ++i;
      flush();
      continue;
    }
    cur += c;
    ++i;
  }
  flush();
  return out;
}

std::string ExtractTableDefinition(const std::string& script, const std::string& schema, const std::string& name) {
  std::string header = "-- Name: " + name + "; Type: TABLE; Schema: " + schema + "; ";
  size_t at = script.find("\n" + header);
  if (at == std::string::npos) return "";
  // Skip the header line and the "--" that closes the header comment; the entry ends where the
  // next entry's header comment starts ("--" alone on a line).
  size_t body = script.find("\n--\n", at + 1);
  if (body == std::string::npos) return "";
  body += 3;
  size_t end = script.find("\n--\n", body);
  std::string block = script.substr(body, end == std::string::npos ? std::string::npos : end - body);
  std::string out;
  for (const auto& stmt : SplitSqlStatements(block)) {
    if (UpgradeOnly(stmt)) continue;
    out += stmt + "\n";
  }
  return out;
}

std::vector<PreDataStep> SplitAtDefinitions(int server_version_num, const std::string& archive_path,
                                            const std::map<std::string, std::string>& definitions) {
  std::istringstream toc(ArchiveToc(server_version_num, archive_path));
  std::string line, part;
  std::vector<PreDataStep> steps;
  std::map<std::string, bool> placed;
  while (std::getline(toc, line)) {
    // "215; 1259 16397 TABLE public c2 postgres": catalog 1259 is pg_class, then the oid.
    std::string def;
    size_t semi = line.find("; 1259 ");
    if (!line.empty() && line[0] != ';' && semi != std::string::npos) {
      size_t oid_at = semi + 7, oid_end = line.find(' ', oid_at);
      if (oid_end != std::string::npos && line.compare(oid_end, 7, " TABLE ") == 0) {
        auto it = definitions.find(line.substr(oid_at, oid_end - oid_at));
        if (it != definitions.end()) {
          def = it->second;
          placed[it->first] = true;
        }
      }
    }
    if (def.empty()) {
      part += line + "\n";
    } else {
      steps.push_back({part, def});
      part.clear();
    }
  }
  for (const auto& [oid, sql] : definitions) {
    if (!placed.count(oid)) throw Error(ErrorCode::kCorruption, "the schema archive has no table with oid " + oid);
  }
  steps.push_back({part, ""});
  return steps;
}

void RestorePreDataWithDefinitions(const ToolTarget& target, const std::string& archive_path,
                                   const std::map<std::string, std::string>& definitions,
                                   const std::string& work_dir) {
  auto steps = SplitAtDefinitions(target.server_version_num, archive_path, definitions);
  PgConnection conn(target.conninfo, target.dbname);
  conn.ApplySessionSettings();
  conn.Exec("SET client_encoding = 'UTF8'");
  conn.Exec("SET search_path = ''");
  bool superuser = conn.QueryValue("SELECT rolsuper::text FROM pg_catalog.pg_roles WHERE rolname = current_user") == "true";
  for (size_t k = 0; k < steps.size(); ++k) {
    std::string list = work_dir + "/pre-data-" + std::to_string(k) + ".list";
    WriteFile(list, steps[k].toc);
    RestoreSection(target, archive_path, "pre-data", 1, list);
    for (const auto& stmt : SplitSqlStatements(steps[k].definition)) {
      if (CatalogUpdate(stmt) && !superuser) {
        log::Warning("not a superuser: inherited columns of a reordered inheritance child stay marked local");
        continue;
      }
      conn.Exec(stmt);
    }
  }
}

void PreDataScriptWithDefinitions(int server_version_num, const std::string& archive_path,
                                  const std::map<std::string, std::string>& definitions, const std::string& work_dir,
                                  const std::string& out_path) {
  auto steps = SplitAtDefinitions(server_version_num, archive_path, definitions);
  std::ofstream out(out_path, std::ios::binary);
  for (size_t k = 0; k < steps.size(); ++k) {
    std::string list = work_dir + "/pre-data-" + std::to_string(k) + ".list";
    std::string piece = work_dir + "/pre-data-" + std::to_string(k) + ".sql";
    WriteFile(list, steps[k].toc);
    ArchiveToScript(server_version_num, archive_path, piece, "pre-data", list);
    std::ifstream in(piece, std::ios::binary);
    out << in.rdbuf();
    // Every piece's header sets client_encoding UTF8 and an empty search_path, which the
    // definitions (UTF-8, fully qualified) need.
    if (!steps[k].definition.empty()) out << "\n-- dhanbak: table definition with its exact column order\n" << steps[k].definition;
  }
  out.close();
  if (!out) throw Error(ErrorCode::kIo, "cannot write '" + out_path + "'");
}

}  // namespace dhanbak::pg
