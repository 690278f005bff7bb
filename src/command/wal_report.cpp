#include "command/wal_report.hpp"

#include "common/log.hpp"
#include "storage/open_storage.hpp"

namespace dhanbak::command {

wal::ArchiveSummary QuickWalSummary(Context& ctx) {
  try {
    auto storage = storage::OpenStorageForReports(ctx.repository_url(), ctx.config());
    return wal::SummarizeArchive(*storage);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    log::Warning(std::string("cannot list the WAL archive: ") + e.what());
    return {};
  }
}

int64_t NewestWalAgeSeconds(const wal::ArchiveSummary& summary, UnixMicros now) {
  if (summary.newest_archived_unix == 0) return -1;
  return std::max<int64_t>(0, now / 1000000 - summary.newest_archived_unix);
}

nlohmann::json WalSummaryJson(const wal::ArchiveSummary& summary, UnixMicros now) {
  if (summary.empty()) return nullptr;
  nlohmann::json timelines = nlohmann::json::array();
  for (const auto& t : summary.timelines) {
    nlohmann::json gaps = nlohmann::json::array();
    for (const auto& g : t.gaps) {
      gaps.push_back({{"after", g.after}, {"before", g.before}, {"missing", g.missing}, {"given_up", g.given_up}});
    }
    timelines.push_back(
        {{"timeline", t.timeline}, {"first", t.first}, {"last", t.last}, {"segments", t.segments}, {"gaps", gaps}});
  }
  return {{"timelines", timelines},
          {"history_files", summary.history_files},
          {"given_up", summary.given_up},
          {"newest_segment", summary.newest_segment},
          {"newest_archived_at",
           summary.newest_archived_unix ? FormatUtcIso(summary.newest_archived_unix * 1000000) : ""},
          {"newest_age_seconds", NewestWalAgeSeconds(summary, now)},
          {"objects", summary.objects},
          {"bytes", summary.bytes}};
}

std::vector<std::string> WalSummaryLines(const wal::ArchiveSummary& summary, UnixMicros now) {
  std::vector<std::string> lines;
  if (summary.empty()) return lines;
  for (const auto& t : summary.timelines) {
    lines.push_back("WAL archive, timeline " + std::to_string(t.timeline) + ": " + t.first + " .. " + t.last + ", " +
                    std::to_string(t.segments) + " segment(s)");
    for (const auto& g : t.gaps) {
      lines.push_back("  gap: " + std::to_string(g.missing) + " segment(s) missing between " + g.after + " and " +
                      g.before + (g.given_up ? ", " + std::to_string(g.given_up) + " given up by max_wal_backlog" : "") +
                      " (no point in time inside it can be restored)");
    }
  }
  int64_t age = NewestWalAgeSeconds(summary, now);
  if (age >= 0) {
    lines.push_back("newest archived WAL: " + summary.newest_segment + " at " +
                    FormatLocalTime(summary.newest_archived_unix * 1000000) + " (" + std::to_string(age / 60) +
                    " min ago); " + log::FormatBytes(static_cast<double>(summary.bytes)) + " in " +
                    std::to_string(summary.objects) + " object(s)");
  }
  return lines;
}

RestorableWindow FindRestorableWindow(const std::vector<catalog::BaseBackupRecord>& bases,
                                      const wal::ArchiveSummary& summary) {
  RestorableWindow w;
  if (summary.newest_archived_unix == 0) {
    w.why_none = "no WAL archived";
    return w;
  }
  // Segment names compare by log and segment number past their timeline (first 8 characters).
  auto position = [](const std::string& segment) { return segment.size() > 8 ? segment.substr(8) : segment; };
  std::string last_gap;  // the first segment after the newest gap
  for (const auto& t : summary.timelines) {
    for (const auto& g : t.gaps) last_gap = std::max(last_gap, position(g.before));
  }
  for (const auto& b : bases) {
    if (b.status != "ok" || b.start_wal.empty() || position(b.start_wal) < last_gap) continue;
    if (!w.any || b.stopped_at < w.from) {
      w.any = true;
      w.from = b.stopped_at;
      w.base_backup_id = b.backup_id;
    }
  }
  if (!w.any) {
    w.why_none = last_gap.empty() ? "no base backup (run 'dhanbak base-backup')"
                                  : "no base backup after the archive's newest gap (run 'dhanbak base-backup')";
    return w;
  }
  w.to = std::max(w.from, summary.newest_archived_unix * 1000000);
  return w;
}

std::string RestorableWindowLine(const RestorableWindow& w) {
  if (!w.any) return "point in time: no restorable window: " + w.why_none;
  return "point in time: any second from " + FormatLocalTime(w.from) + " to " + FormatLocalTime(w.to) +
         " (base backup " + w.base_backup_id + ", then the WAL archive)";
}

nlohmann::json RestorableWindowJson(const RestorableWindow& w) {
  if (!w.any) return {{"from", nullptr}, {"to", nullptr}, {"why_none", w.why_none}};
  return {{"from", FormatUtcIso(w.from)}, {"to", FormatUtcIso(w.to)}, {"base_backup", w.base_backup_id}};
}

}  // namespace dhanbak::command
