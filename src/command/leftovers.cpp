#include "command/leftovers.hpp"

#include <memory>

#include "command/restore_engine.hpp"
#include "command/restore_names.hpp"
#include "common/log.hpp"
#include "pg/connection.hpp"

namespace dhanbak::command {
namespace {

std::vector<Leftover> Query(pg::PgConnection& admin) {
  // LIKE patterns: '_' is a wildcard, so escape it; the prefixes are ASCII.
  auto rows = admin.Query(R"SQL(
    SELECT d.datname, CASE WHEN d.datname LIKE 'dhanbak\_restoring\_%' THEN 'restore' ELSE 'verify' END
    FROM pg_catalog.pg_database d
    WHERE (d.datname LIKE 'dhanbak\_restoring\_%' OR d.datname LIKE 'dhanbak\_verify\_%')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.datid = d.oid)
    ORDER BY 1)SQL");
  std::vector<Leftover> out;
  for (const auto& r : rows) out.push_back({*r[0], *r[1]});
  return out;
}

}  // namespace

std::vector<Leftover> FindLeftovers(const std::string& conninfo) {
  auto admin = AdminConnection(conninfo);
  return Query(*admin);
}

void RemoveLeftoversOf(const std::string& conninfo, const std::string& target) {
  auto admin = AdminConnection(conninfo);
  std::string mine = RestoringPrefix(target);
  for (const auto& l : Query(*admin)) {
    if (l.database.starts_with(mine)) {
      try {
        DropBuiltDatabase(*admin, conninfo, l.database, false);
        log::Warning("removed " + l.database + ", left over by an interrupted restore of " + target);
      } catch (const std::exception& e) {
        log::Warning("could not remove " + l.database + ", left over by an interrupted restore of " + target +
                     ": " + e.what());
      }
    } else {
      log::Warning("database " + l.database + " was left over by an interrupted " + l.kind +
                   " (drop it with DROP DATABASE, or restore its target again)");
    }
  }
}

}  // namespace dhanbak::command
