#include "command/wal_check.hpp"

#include <cstdlib>
#include <chrono>
#include <thread>

#include "command/wal_report.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "pg/connection.hpp"
#include "wal/archive_summary.hpp"
#include "wal/wal_archive.hpp"

namespace dhanbak::command {
namespace {

using Clock = std::chrono::steady_clock;
// How long check waits for the segment it switched to reach the repository.
constexpr auto kArchiveProofTimeout = std::chrono::seconds(120);

// Switches the configured server to a new WAL segment and waits until the finished one is in the
// repository. Returns a note, or throws Error with the problem.
std::string ProveArchiving(Context& ctx, wal::WalArchive& archive, nlohmann::json& json) {
  const Config& config = ctx.config();
  if (config.postgres.conninfo.empty()) return "no [postgres] conninfo: archiving was not tried end to end";
  std::unique_ptr<pg::PgConnection> conn;
  ::setenv("PGCONNECT_TIMEOUT", "10", 0);  // check must answer when the server does not
  try {
    conn = std::make_unique<pg::PgConnection>(config.postgres.conninfo, std::string("postgres"));
  } catch (const Error& e) {
    return std::string("cannot connect to the server to try archiving end to end: ") + e.what();
  }
  const std::string mode = conn->QueryValue("SELECT current_setting('archive_mode')");
  const std::string command = conn->QueryValue("SELECT current_setting('archive_command')");
  json["archive_mode"] = mode;
  if (mode == "off") return "the server does not archive its WAL (archive_mode = off)";
  if (command.find("wal-push") == std::string::npos) {
    return "the server's archive_command is not dhanbak's wal-push: archiving was not tried end to end";
  }
  std::string sqlstate, message;
  if (!conn->TryExec("CREATE TEMP TABLE dhanbak_check_switch(x int); INSERT INTO dhanbak_check_switch VALUES (1)",
                     sqlstate, message)) {
    return "cannot write to the server to try archiving end to end: " + message;
  }
  std::vector<pg::Row> rows;
  try {
    rows = conn->Query("SELECT pg_walfile_name(pg_switch_wal())");
  } catch (const Error& e) {
    return std::string("cannot switch WAL segments (pg_switch_wal needs superuser or GRANT EXECUTE): ") + e.what();
  }
  const std::string segment = rows.at(0).at(0).value_or("");
  json["switched_segment"] = segment;
  auto file = wal::WalFile::Parse(segment);
  if (!file) throw Error(ErrorCode::kPg, "pg_switch_wal gave an unexpected segment name '" + segment + "'");
  const auto started = Clock::now();
  while (archive.StoredHashes(*file).empty()) {
    ThrowIfInterrupted();
    if (Clock::now() - started > kArchiveProofTimeout) {
      auto state = conn->Query(
          "SELECT coalesce(last_archived_wal, ''), coalesce(last_failed_wal, ''), coalesce(last_failed_time::text, '') "
          "FROM pg_stat_archiver");
      throw Error(ErrorCode::kVerification,
                  "archiving does not work: segment " + segment + " was switched but is not in the repository after " +
                      std::to_string(kArchiveProofTimeout.count()) + " s (pg_stat_archiver: last archived '" +
                      state.at(0).at(0).value_or("") + "', last failed '" + state.at(0).at(1).value_or("") + "' at " +
                      state.at(0).at(2).value_or("") + "; the server log has archive_command's messages)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  json["archived_after_ms"] = ms;
  return "archiving works end to end: segment " + segment + " reached the repository " + std::to_string(ms) +
         " ms after the switch";
}

}  // namespace

WalCheckResult CheckWalArchive(Context& ctx, bool read_data) {
  WalCheckResult result;
  auto& repo = ctx.repository();
  wal::WalArchive archive(repo);
  auto identity = archive.Identity();
  nlohmann::json json = nlohmann::json::object();
  try {
    result.notes.push_back(ProveArchiving(ctx, archive, json));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    result.problems.push_back(e.what());
  }
  const wal::ArchiveSummary summary = wal::SummarizeArchive(repo.storage(), identity ? identity->segment_size : 0);
  if (summary.empty() && !json.contains("switched_segment")) {
    result.notes.clear();  // no archive here and none configured: nothing to say
    return result;
  }
  for (const auto& t : summary.timelines) {
    for (const auto& g : t.gaps) {
      result.problems.push_back("WAL archive, timeline " + std::to_string(t.timeline) + ": " +
                                std::to_string(g.missing) + " segment(s) missing between " + g.after + " and " +
                                g.before +
                                (g.given_up ? " (" + std::to_string(g.given_up) + " given up by wal-push under "
                                                  "[pitr] max_wal_backlog)" : "") +
                                "; no point in time inside the gap can be restored");
    }
  }
  for (const auto& f : summary.ambiguous) {
    result.problems.push_back("WAL file " + f +
                              " is archived with two different contents: two servers archived into this "
                              "repository as one cluster (split brain); recovery through it is refused");
  }
  uint64_t read = 0, bytes = 0;
  if (read_data) {
    for (const std::string& name : summary.object_names) {
      ThrowIfInterrupted();
      auto object = wal::ParseWalObjectName(name);
      try {
        std::string content = repo.ReadSealed(name);
        if (repo.ChunkId(content) != object->content_hash) {
          throw Error(ErrorCode::kCorruption, "object '" + name + "' does not hold the WAL file it was archived as");
        }
        ++read;
        bytes += content.size();
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kInterrupted) throw;
        result.problems.push_back(std::string("WAL archive: ") + e.what());
      }
    }
  }
  json["summary"] = WalSummaryJson(summary, NowMicros());
  json["files_read"] = read;
  json["bytes_read"] = bytes;
  if (identity) json["system_identifier"] = std::to_string(identity->system_identifier);
  result.json = json;
  return result;
}

}  // namespace dhanbak::command
