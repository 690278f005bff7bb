#include "pg/schema_check.hpp"

#include <fstream>

#include "dhanbak/error.hpp"

namespace dhanbak::pg {
namespace {

bool Ignored(const std::string& line) {
  return line.starts_with("\\restrict ") || line.starts_with("\\unrestrict ");
}

bool NextLine(std::ifstream& in, std::string& line, int64_t& number) {
  while (std::getline(in, line)) {
    ++number;
    if (!Ignored(line)) return true;
  }
  return false;
}

std::string Clip(const std::string& s) { return s.size() > 200 ? s.substr(0, 200) + "..." : s; }

}  // namespace

std::optional<std::string> CompareSchema(const ToolTarget& target, const std::string& archive_path,
                                         const std::vector<std::pair<std::string, std::string>>& data_tables,
                                         const std::string& work_dir) {
  std::string expected_path = work_dir + "/expected-schema.sql";
  std::string actual_path = work_dir + "/restored-schema.sql";
  ArchiveToScript(target.server_version_num, archive_path, expected_path);
  DumpScript(target, data_tables, actual_path);
  std::ifstream expected(expected_path), actual(actual_path);
  if (!expected || !actual) throw Error(ErrorCode::kIo, "cannot read schema scripts in " + work_dir);
  std::string a, b;
  int64_t na = 0, nb = 0;
  for (;;) {
    bool more_a = NextLine(expected, a, na);
    bool more_b = NextLine(actual, b, nb);
    if (!more_a && !more_b) return std::nullopt;
    if (more_a != more_b || a != b) {
      return "schema differs at line " + std::to_string(more_b ? nb : na) + ": backup has '" +
             (more_a ? Clip(a) : std::string("<end>")) + "', restored database has '" +
             (more_b ? Clip(b) : std::string("<end>")) + "'";
    }
  }
}

}  // namespace dhanbak::pg
