#include "pg/standby.hpp"

#include <algorithm>

namespace dhanbak::pg {

std::optional<format::StandbySource> ReadStandbySource(PgConnection& conn) {
  // Lag counts only while WAL that was received waits to be replayed: an idle primary sends
  // nothing, and a standby that replayed all of it is as current as the primary.
  auto rows = conn.Query(
      "SELECT pg_catalog.pg_is_in_recovery(), "
      "coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, ''), "
      "coalesce(pg_catalog.pg_last_wal_receive_lsn()::text, ''), "
      "coalesce((extract(epoch FROM pg_catalog.pg_last_xact_replay_timestamp()) * 1000000)::bigint, 0), "
      "CASE WHEN pg_catalog.pg_last_wal_receive_lsn() > pg_catalog.pg_last_wal_replay_lsn() "
      "THEN coalesce(extract(epoch FROM pg_catalog.clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp()), 0) "
      "ELSE 0 END");
  if (rows.empty() || rows[0][0].value_or("f") != "t") return std::nullopt;
  format::StandbySource s;
  s.replay_lsn = rows[0][1].value_or("");
  s.receive_lsn = rows[0][2].value_or("");
  s.last_replay_at = std::stoll(rows[0][3].value_or("0"));
  s.replay_lag_seconds = std::max(0.0, std::stod(rows[0][4].value_or("0")));
  return s;
}

bool IsRecoveryConflict(const std::string& message) {
  return message.find("due to conflict with recovery") != std::string::npos;
}

std::string RecoveryConflictAdvice(const std::string& max_standby_streaming_delay) {
  return "the standby cancelled the backup to replay the primary's changes (conflict with recovery). On the "
         "standby set hot_standby_feedback = on (the primary then keeps the rows the backup still reads), or "
         "raise max_standby_streaming_delay (now " + max_standby_streaming_delay +
         ") above the backup's duration (replay then waits for the backup; -1 waits for ever)";
}

}  // namespace dhanbak::pg
