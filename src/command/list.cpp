#include "command/list.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "command/wal_report.hpp"
#include "common/log.hpp"
#include "common/time_spec.hpp"

namespace dhanbak::command {

namespace {

// When the catalog shows nothing, the catalog may be the problem (a new machine, a lost or
// deleted catalog, another URL spelling of old): count the manifests in storage it does not know.
void HintCatalogRebuild(Context& ctx) {
  try {
    std::set<std::string> known;
    for (const auto& b : ctx.catalog().ListBackups(ctx.repository_url(), std::nullopt)) known.insert(b.backup_id);
    int64_t unknown = 0;
    const std::string prefix = "manifests/";
    ctx.storage().List(prefix, [&](const storage::ObjectInfo& o) {
      if (!known.count(o.name.substr(prefix.size()))) ++unknown;
    });
    if (unknown > 0) {
      log::Warning("the catalog lists no such backups, but the repository holds " + std::to_string(unknown) +
                   " backup manifest(s) the catalog does not know: run `dhanbak catalog rebuild`");
    }
  } catch (const std::exception& e) {
    log::Debug(std::string("cannot compare the catalog with storage: ") + e.what());
  }
}

nlohmann::json BaseBackupsJson(const std::vector<catalog::BaseBackupRecord>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : list) {
    out.push_back({{"backup_id", b.backup_id},
                   {"status", b.status},
                   {"started_at", FormatUtcIso(b.started_at)},
                   {"restorable_from", b.stopped_at ? FormatUtcIso(b.stopped_at) : ""},
                   {"timeline", b.timeline},
                   {"start_wal", b.start_wal},
                   {"stop_wal", b.stop_wal},
                   {"bytes", b.bytes},
                   {"stored_bytes", b.stored_bytes},
                   {"error", b.error}});
  }
  return out;
}

void PrintBaseBackups(const std::vector<catalog::BaseBackupRecord>& list) {
  if (list.empty()) return;
  std::printf("base backups (whole cluster):\n");
  for (const auto& b : list) {
    std::printf("  %-26s %-7s restorable from %-25s WAL %s..%s  %s (%s new)\n", b.backup_id.c_str(), b.status.c_str(),
                b.stopped_at ? FormatLocalTime(b.stopped_at).c_str() : "-", b.start_wal.c_str(), b.stop_wal.c_str(),
                log::FormatBytes(static_cast<double>(b.bytes)).c_str(),
                log::FormatBytes(static_cast<double>(b.stored_bytes)).c_str());
    if (b.status == "failed" && !b.error.empty()) std::printf("    error: %s\n", b.error.c_str());
  }
}

}  // namespace

int RunList(Context& ctx, const std::optional<std::string>& database) {
  auto backups = ctx.catalog().ListBackups(ctx.repository_url(), database);
  const wal::ArchiveSummary wal_summary = QuickWalSummary(ctx);
  const auto all_base_backups = ctx.catalog().ListBaseBackups(ctx.repository_url());
  const auto base_backups = database ? std::vector<catalog::BaseBackupRecord>{} : all_base_backups;
  const RestorableWindow window = FindRestorableWindow(all_base_backups, wal_summary);
  if (backups.empty()) HintCatalogRebuild(ctx);
  // Backups found lost (manifest missing from storage) by check, status or restore.
  auto lost_ids = ctx.catalog().LostBackups(ctx.repository_url());
  std::set<std::string> lost(lost_ids.begin(), lost_ids.end());
  if (ctx.options().json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& b : backups) {
      out.push_back({{"backup_id", b.backup_id},
                     {"database", b.database},
                     {"status", b.status},
                     {"lost", lost.count(b.backup_id) > 0},
                     {"snapshot_time", b.snapshot_time ? FormatUtcIso(b.snapshot_time) : ""},
                     {"started_at", FormatUtcIso(b.started_at)},
                     {"finished_at", b.finished_at ? FormatUtcIso(b.finished_at) : ""},
                     {"rows", b.rows},
                     {"logical_bytes", b.logical_bytes},
                     {"stored_bytes", b.stored_bytes},
                     {"error", b.error}});
    }
    std::cout << nlohmann::json{{"repository", ctx.repository_url()}, {"backups", out},
                                {"base_backups", BaseBackupsJson(base_backups)},
                                {"wal", WalSummaryJson(wal_summary, NowMicros())},
                                {"restorable_window", RestorableWindowJson(window)}}
                     .dump(2)
              << "\n";
    return 0;
  }
  if (backups.empty()) {
    std::cout << "no backups" << (database ? " of " + *database : std::string()) << " in " << ctx.repository_url() << "\n";
    std::fflush(stdout);
    PrintBaseBackups(base_backups);
    for (const auto& line : WalSummaryLines(wal_summary, NowMicros())) std::cout << line << "\n";
    if (!wal_summary.empty()) std::cout << RestorableWindowLine(window) << "\n";
    return 0;
  }
  std::printf("%-26s %-28s %-25s %-7s %12s %11s %11s\n", "ID", "DATABASE", "TIME", "STATUS", "ROWS", "LOGICAL",
              "STORED");
  for (const auto& b : backups) {
    std::printf("%-26s %-28s %-25s %-7s %12lld %11s %11s\n", b.backup_id.c_str(), b.database.c_str(),
                FormatLocalTime(b.snapshot_time ? b.snapshot_time : b.started_at).c_str(),
                lost.count(b.backup_id) ? "lost" : b.status.c_str(),
                static_cast<long long>(b.rows), log::FormatBytes(static_cast<double>(b.logical_bytes)).c_str(),
                log::FormatBytes(static_cast<double>(b.stored_bytes)).c_str());
    if (b.status == "failed" && !b.error.empty()) std::printf("    error: %s\n", b.error.c_str());
    if (lost.count(b.backup_id)) std::printf("    lost: its manifest is missing from storage (runbook: a backup is lost)\n");
  }
  PrintBaseBackups(base_backups);
  for (const auto& line : WalSummaryLines(wal_summary, NowMicros())) std::printf("%s\n", line.c_str());
  if (!wal_summary.empty()) std::printf("%s\n", RestorableWindowLine(window).c_str());
  return 0;
}

}  // namespace dhanbak::command
