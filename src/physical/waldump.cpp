#include "physical/waldump.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "dhanbak/error.hpp"

namespace dhanbak::physical {
namespace {

// Relations below this number are the system catalogs (FirstNormalObjectId).
constexpr uint64_t kFirstNormalObjectId = 16384;

const std::set<std::string>& CountedOperations() {
  static const std::set<std::string> ops{"INSERT", "UPDATE", "HOT_UPDATE", "DELETE", "TRUNCATE", "MULTI_INSERT"};
  return ops;
}

// The text after `key` up to `stop` (or the end), "" when `key` is absent.
std::string_view Field(std::string_view line, std::string_view key, char stop) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return {};
  std::string_view rest = line.substr(at + key.size());
  const size_t end = rest.find(stop);
  return end == std::string_view::npos ? rest : rest.substr(0, end);
}

// The number at the start of `s`, after any spaces (pg_waldump pads its columns).
uint64_t Number(std::string_view s) {
  uint64_t n = 0;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  for (char c : s) {
    if (c < '0' || c > '9') break;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

void Merge(DumpedTransaction& into, const DumpedTransaction& from) {
  into.ddl = into.ddl || from.ddl;
  if (into.first_lsn.empty()) into.first_lsn = from.first_lsn;
  for (const auto& [rel, ops] : from.changes) {
    for (const auto& [op, n] : ops) into.changes[rel][op] += n;
  }
}

}  // namespace

std::map<uint64_t, DumpedTransaction> ParseWalDump(std::string_view dump, uint64_t database_oid) {
  static const std::regex rel_re(R"(rel (\d+)/(\d+)/(\d+))");
  static const std::regex time_re(R"((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(\.\d+)?) UTC)");
  std::map<uint64_t, DumpedTransaction> txs;
  size_t start = 0;
  while (start < dump.size()) {
    size_t end = dump.find('\n', start);
    if (end == std::string_view::npos) end = dump.size();
    const std::string line(dump.substr(start, end - start));
    start = end + 1;
    if (!line.starts_with("rmgr: ")) continue;
    std::string rmgr(Field(line, "rmgr: ", ' '));
    const uint64_t xid = Number(Field(line, "tx: ", ','));
    if (xid == 0) continue;  // no transaction: maintenance (VACUUM, checkpoints, ...)
    const std::string desc(Field(line, "desc: ", '\n'));
    if (rmgr == "Transaction") {
      std::smatch m;
      if (!std::regex_search(desc, m, time_re)) continue;
      std::string outcome = desc.starts_with("COMMIT")  ? "committed"
                            : desc.starts_with("ABORT") ? "aborted"
                            : desc.starts_with("PREPARE") ? "prepared"
                                                          : "";
      if (outcome.empty()) continue;
      DumpedTransaction& t = txs[xid];
      t.xid = xid;
      t.outcome = outcome;
      t.end_time = ParseUtcIso(m[1].str() + "T" + m[2].str() + "Z");
      if (const std::string_view subs = Field(desc, "subxacts: ", ';'); !subs.empty()) {
        std::istringstream in{std::string(subs)};
        uint64_t sub = 0;
        while (in >> sub) {
          auto it = txs.find(sub);
          if (it == txs.end()) continue;
          Merge(t, it->second);
          txs.erase(it);
        }
      }
      continue;
    }
    if (rmgr != "Heap" && rmgr != "Heap2") continue;
    const size_t op_end = desc.find_first_of(" ,");
    std::string op = desc.substr(0, op_end);
    if (const size_t plus = op.find('+'); plus != std::string::npos) op.resize(plus);  // INSERT+INIT
    if (!CountedOperations().count(op)) continue;
    uint64_t rows = 1;
    if (op == "MULTI_INSERT" && op_end != std::string::npos) {  // "MULTI_INSERT+INIT 2 tuples flags 0x02"
      rows = std::max<uint64_t>(1, Number(std::string_view(desc).substr(op_end + 1)));
    }
    for (std::sregex_iterator it(line.begin(), line.end(), rel_re), done; it != done; ++it) {
      const uint64_t db = std::stoull((*it)[2].str()), rel = std::stoull((*it)[3].str());
      if (database_oid != 0 && db != database_oid) continue;
      DumpedTransaction& t = txs[xid];
      t.xid = xid;
      if (t.first_lsn.empty()) t.first_lsn = std::string(Field(line, "lsn: ", ','));
      if (rel < kFirstNormalObjectId) {
        t.ddl = true;
      } else {
        t.changes[rel][op] += rows;
      }
      break;  // one block reference names the record's relation
    }
  }
  // Only what touched the database: an end record alone says nothing about it.
  std::erase_if(txs, [](const auto& kv) { return kv.second.changes.empty() && !kv.second.ddl; });
  return txs;
}

}  // namespace dhanbak::physical
