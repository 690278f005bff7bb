#include "command/timeline.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/file_io.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/subprocess.hpp"
#include "common/temp_dir.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"
#include "physical/waldump.hpp"
#include "retention/physical.hpp"
#include "wal/wal_archive.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::command {
namespace {

// At most this many segments are read (1 GiB of 16 MiB segments): the ones nearest TIME.
constexpr size_t kMaxSegments = 64;

struct Segment {
  std::string name;
  uint32_t timeline = 0;
  uint64_t segno = 0;
  int64_t archived_unix = 0;
};

// Segments whose records fall in [from, to]: those archived from `from` on, up to the first one
// archived at or after `to` (a segment is archived once its last record is written).
std::vector<Segment> SegmentsAround(storage::Storage& storage, uint32_t segment_size, UnixMicros from, UnixMicros to,
                                    UnixMicros at) {
  std::map<std::string, Segment> by_name;
  storage.List(wal::kWalPrefix, [&](const storage::ObjectInfo& info) {
    auto object = wal::ParseWalObjectName(info.name);
    if (!object || object->file.kind != wal::WalFileKind::kSegment) return;
    auto segno = retention::WalFileSegno(object->file.name, segment_size);
    if (!segno) return;
    Segment& s = by_name[object->file.name];
    s = {object->file.name, object->file.timeline, *segno, std::max(s.archived_unix, info.modified_unix)};
  });
  std::vector<Segment> all;
  for (auto& [name, s] : by_name) all.push_back(s);
  std::sort(all.begin(), all.end(), [](const Segment& a, const Segment& b) {
    return a.archived_unix != b.archived_unix ? a.archived_unix < b.archived_unix : a.name < b.name;
  });
  std::vector<Segment> chosen;
  size_t nearest = 0;  // the first archived at or after TIME
  for (const auto& s : all) {
    if (s.archived_unix * 1000000 + 999999 < from) continue;
    chosen.push_back(s);
    if (s.archived_unix * 1000000 < at) nearest = chosen.size();
    if (s.archived_unix * 1000000 >= to) break;
  }
  if (chosen.size() > kMaxSegments) {
    const size_t first = nearest > kMaxSegments / 2 ? std::min(nearest - kMaxSegments / 2, chosen.size() - kMaxSegments) : 0;
    chosen = std::vector<Segment>(chosen.begin() + static_cast<long>(first),
                                  chosen.begin() + static_cast<long>(first + kMaxSegments));
    log::Warning("more than " + std::to_string(kMaxSegments) + " segments in the window: reading the " +
                 std::to_string(kMaxSegments) + " nearest TIME (narrow it with --minutes)");
  }
  std::sort(chosen.begin(), chosen.end(), [](const Segment& a, const Segment& b) {
    return a.timeline != b.timeline ? a.timeline < b.timeline : a.segno < b.segno;
  });
  return chosen;
}

// pg_waldump over each run of consecutive segments of one timeline in `dir`.
std::string DumpSegments(const std::string& waldump, const std::string& dir, const std::vector<Segment>& segments) {
  std::string out;
  for (size_t i = 0; i < segments.size();) {
    size_t j = i;
    while (j + 1 < segments.size() && segments[j + 1].timeline == segments[i].timeline &&
           segments[j + 1].segno == segments[j].segno + 1) {
      ++j;
    }
    SubprocessOptions o;
    o.argv = {waldump, "--path", dir, segments[i].name, segments[j].name};
    o.env = {{"TZ", "UTC"}};
    std::string text;
    o.on_stdout = [&](std::string_view s) { text += s; };
    SubprocessResult r = RunSubprocess(o);
    // pg_waldump ends with an error where the WAL it was given ends: normal past the last record.
    if (r.exit_code != 0 && text.empty()) {
      throw Error(ErrorCode::kIo, "pg_waldump could not read " + segments[i].name + ": " + r.stderr_tail);
    }
    out += text;
    i = j + 1;
  }
  return out;
}

std::string ChangesText(const physical::DumpedTransaction& t, const std::map<uint64_t, std::string>& names) {
  std::string text = t.ddl ? "DDL or TRUNCATE (system catalogs changed)" : "";
  for (const auto& [rel, ops] : t.changes) {
    std::string part = names.at(rel);
    for (const auto& [op, n] : ops) part += " " + std::to_string(n) + " " + op;
    text += (text.empty() ? "" : "; ") + part;
  }
  return text;
}

}  // namespace

int RunTimeline(Context& ctx, const TimelineOptions& o) {
  if (o.minutes < 1 || o.minutes > 24 * 60) {
    throw Error(ErrorCode::kInvalidArgument, "--minutes must be between 1 and 1440");
  }
  const UnixMicros now = NowMicros();
  const TimeSpec spec = ParseTimeSpec(o.around, now);
  const UnixMicros at = spec.latest ? now : spec.at;
  const UnixMicros window = static_cast<UnixMicros>(o.minutes) * 60 * 1000000;
  const UnixMicros from = at - window, to = at + window;
  const Config& config = ctx.config();
  auto locks = ctx.Lock(LockMode::kShared);

  // The database's oid and version from the live server (names are resolved there too).
  std::unique_ptr<pg::PgConnection> live;
  uint64_t oid = 0;
  int version = 150000;
  try {
    pg::PgConnection admin(config.postgres.conninfo, std::string("postgres"));
    version = admin.server_version_num();
    auto rows = admin.Query("SELECT oid::text FROM pg_catalog.pg_database WHERE datname = $1", {o.database});
    if (!rows.empty()) {
      oid = std::stoull(rows.at(0).at(0).value_or("0"));
      live = std::make_unique<pg::PgConnection>(config.postgres.conninfo, o.database);
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    throw Error(e.code(), std::string("timeline reads the database's oid and table names from the server: ") + e.what());
  }
  if (oid == 0) {
    log::Warning("database " + o.database + " does not exist on the server now: showing the transactions of every "
                 "database, tables by file number");
  }

  wal::WalArchive archive(ctx.repository());
  auto identity = archive.Identity();
  if (!identity) throw Error(ErrorCode::kNotFound, "the repository holds no archived WAL");
  const std::vector<Segment> segments = SegmentsAround(ctx.storage(), identity->segment_size, from, to, at);
  if (segments.empty()) {
    throw Error(ErrorCode::kNotFound, "no WAL archived between " + FormatLocalTime(from) + " and " +
                                          FormatLocalTime(to) + " (dhanbak list shows the archived range)");
  }
  TempDir tmp;
  for (const auto& s : segments) {
    ThrowIfInterrupted();
    auto file = wal::WalFile::Parse(s.name);
    auto content = archive.Fetch(*file);
    if (!content) throw Error(ErrorCode::kNotFound, "segment " + s.name + " vanished from the archive");
    WriteFileAtomically(tmp.path() + "/" + s.name, *content, 0600, false);
  }
  const std::string waldump =
      config.pitr.pg_bin_dir.empty() ? FindPgProgram("pg_waldump", version) : config.pitr.pg_bin_dir + "/pg_waldump";
  auto txs = physical::ParseWalDump(DumpSegments(waldump, tmp.path(), segments), oid);

  std::vector<const physical::DumpedTransaction*> shown;
  for (const auto& [xid, t] : txs) {
    if (t.end_time == 0 || (t.end_time >= from && t.end_time <= to)) shown.push_back(&t);
  }
  std::sort(shown.begin(), shown.end(), [](const auto* a, const auto* b) {
    const UnixMicros ea = a->end_time ? a->end_time : INT64_MAX, eb = b->end_time ? b->end_time : INT64_MAX;
    return ea != eb ? ea < eb : a->xid < b->xid;
  });
  std::map<uint64_t, std::string> names;
  for (const auto* t : shown) {
    for (const auto& [rel, ops] : t->changes) {
      if (names.count(rel)) continue;
      std::string name;
      if (live) {
        auto rows = live->Query("SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c "
                                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relfilenode = $1::oid",
                                {std::to_string(rel)});
        if (!rows.empty()) name = rows.at(0).at(0).value_or("");
      }
      names[rel] = name.empty() ? "relation file " + std::to_string(rel) + " (dropped or rewritten since)" : name;
    }
  }
  const physical::DumpedTransaction* first_after = nullptr;
  for (const auto* t : shown) {
    if (t->end_time > at && t->outcome == "committed") {
      first_after = t;
      break;
    }
  }

  if (ctx.options().json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto* t : shown) {
      nlohmann::json changes = nlohmann::json::array();
      for (const auto& [rel, ops] : t->changes) {
        for (const auto& [op, n] : ops) changes.push_back({{"relation", names[rel]}, {"operation", op}, {"rows", n}});
      }
      list.push_back({{"xid", t->xid},
                      {"outcome", t->outcome.empty() ? "in progress" : t->outcome},
                      {"time", t->end_time ? nlohmann::json(FormatUtcIso(t->end_time)) : nlohmann::json()},
                      {"ddl", t->ddl},
                      {"changes", changes}});
    }
    std::cout << nlohmann::json{{"database", o.database},
                                {"around", FormatUtcIso(at)},
                                {"from", FormatUtcIso(from)},
                                {"to", FormatUtcIso(to)},
                                {"first_segment", segments.front().name},
                                {"last_segment", segments.back().name},
                                {"transactions", list},
                                {"restore_before_first_after",
                                 first_after ? nlohmann::json(FormatUtcIso(first_after->end_time - 1)) : nlohmann::json()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "transactions that changed " << o.database << " between " << FormatLocalTime(from) << " and "
            << FormatLocalTime(to) << " (WAL " << segments.front().name << " to " << segments.back().name << "):\n";
  bool marked = false;
  for (const auto* t : shown) {
    if (!marked && (t->end_time == 0 || t->end_time > at)) {
      std::cout << "  ---------------------------  " << FormatUtcIso(at) << "  (the time asked)\n";
      marked = true;
    }
    std::cout << "  " << (t->end_time ? FormatUtcIso(t->end_time) : std::string("(no end in this WAL)       "))
              << "  xid " << t->xid << "  " << (t->outcome.empty() ? "in progress" : t->outcome) << "  "
              << ChangesText(*t, names) << "\n";
  }
  if (!marked) std::cout << "  ---------------------------  " << FormatUtcIso(at) << "  (the time asked)\n";
  if (shown.empty()) std::cout << "  (no transaction changed " << o.database << " in this window)\n";
  if (first_after) {
    std::cout << "to restore " << o.database << " as it was just before xid " << first_after->xid << ": dhanbak restore "
              << o.database << " --at " << FormatUtcIso(first_after->end_time - 1) << " --target-db ...\n";
  }
  return 0;
}

}  // namespace dhanbak::command
