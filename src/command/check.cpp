#include "command/check.hpp"

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "command/missing_backups.hpp"
#include "command/version_audit.hpp"
#include "command/base_backup_check.hpp"
#include "command/wal_check.hpp"
#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {
namespace {

// A backup that needs at least one damaged (corrupted or missing) chunk.
struct DamagedBackup {
  std::string backup_id, database;
  std::set<std::string> chunks;  // ids
};

}  // namespace

int RunCheck(Context& ctx, bool read_data) {
  auto locks = ctx.Lock(LockMode::kShared);
  auto& repo = ctx.repository();
  auto& cat = ctx.catalog();
  const std::string url = ctx.repository_url();
  std::vector<std::string> problems;
  // One listing of every version: a hidden chunk or manifest is still stored (readers use its
  // hidden version); it is reported as hidden, not as missing.
  VersionScan scan = ScanVersions(ctx.storage());
  const std::unordered_set<std::string>& stored = scan.chunk_objects;
  const std::vector<std::string>& ids = scan.manifest_ids;
  const std::set<std::string> present(ids.begin(), ids.end());

  // The catalog against storage: a good backup whose manifest is gone is lost.
  // One that retention expires was pruned, maybe by another host: forgotten, not a problem.
  std::set<std::string> cataloged;
  std::vector<retention::BackupRef> listed;
  std::map<std::string, std::string> database_of;
  for (const auto& b : cat.ListBackups(url, std::nullopt)) {
    if (b.status != "ok") continue;
    cataloged.insert(b.backup_id);
    database_of[b.backup_id] = b.database;
    if (present.count(b.backup_id)) {
      listed.push_back({b.backup_id, b.database, b.snapshot_time});
      cat.ClearLostBackup(url, b.backup_id);
    }
  }
  std::vector<std::string> lost = SortOutMissing(ctx, listed, true).lost;
  for (const auto& id : lost) {
    cat.RecordLostBackup(url, id);
    problems.push_back("backup " + id + " (" + database_of[id] + ") is lost: the catalog lists it but its manifest '" +
                       format::Repository::ManifestName(id) + "' is missing from the repository");
  }
  size_t uncataloged = 0;
  for (const auto& id : ids) uncataloged += cataloged.count(id) ? 0 : 1;

  // Chunks an earlier restore, verify, export or check found damaged and no backup stored again.
  std::map<std::string, std::string> recorded;
  for (auto& [id, detail] : cat.DamagedChunks(url)) recorded.emplace(id, detail);

  std::map<std::string, std::string> bad;   // chunk id -> what is wrong with it
  std::unordered_set<std::string> good;     // chunks read and authenticated in this run
  std::unordered_set<std::string> referenced;
  std::map<std::string, DamagedBackup> damaged;  // by backup id
  std::map<std::string, std::pair<int64_t, std::set<std::string>>> newest;  // database -> (snapshot, chunks)
  bool all_manifests_read = true;
  int64_t streams = 0, chunks_checked = 0, bytes_read = 0;
  stream::ChunkFetcher fetcher(repo, 4, 8);
  for (const auto& id : ids) {
    format::Manifest m;
    try {
      m = repo.GetManifest(id);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInterrupted) throw;
      problems.push_back(std::string("manifest ") + id + ": " + e.what());
      all_manifests_read = false;
      continue;
    }
    std::vector<std::pair<std::string, const format::StreamRef*>> refs{{"schema archive", &m.schema},
                                                                       {"cluster globals", &m.globals}};
    for (const auto& t : m.tables) refs.emplace_back("table " + t.schema + "." + t.name, &t.data);
    std::set<std::string> all_chunks;
    auto mark = [&](const std::string& chunk) {
      auto& d = damaged[id];
      d.backup_id = id;
      d.database = m.database;
      d.chunks.insert(chunk);
    };
    for (const auto& [what, ref] : refs) {
      ++streams;
      const std::string label = "backup " + id + " (" + m.database + "), " + what;
      bool complete = true;
      for (size_t i = 0; i < ref->chunks.size(); ++i) {
        const std::string& c = ref->chunks[i];
        const std::string& base = ref->BaseOf(i);
        referenced.insert(c);
        all_chunks.insert(c);
        if (!base.empty()) referenced.insert(base);
        if (std::string problem = format::Repository::ChunkStorageProblem(c, base, stored); !problem.empty()) {
          if (!bad.count(c)) repo.ReportDamagedChunk(c, problem + " from the repository");
          bad.emplace(c, problem);
          problems.push_back(label + ": " + problem);
          mark(c);
          complete = false;
        } else if (bad.count(c) || (!read_data && recorded.count(c))) {
          // Known damaged (earlier in this run, or by an earlier command): not read again.
          problems.push_back(label + ": " + (bad.count(c) ? bad.at(c) : recorded.at(c) + " (recorded earlier)"));
          mark(c);
          complete = false;
        }
      }
      if (!read_data || !complete) continue;
      try {
        fetcher.Stream(*ref, label, [&](std::string_view d) { bytes_read += static_cast<int64_t>(d.size()); });
        chunks_checked += static_cast<int64_t>(ref->chunks.size());
        good.insert(ref->chunks.begin(), ref->chunks.end());
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kInterrupted) throw;
        if (e.code() != ErrorCode::kCorruption) {  // the repository could not be read (network, ...)
          problems.push_back(label + ": " + e.what());
          continue;
        }
        // The fetcher stops at the first bad chunk: read each chunk of the stream on its own, so
        // that every damaged one is named (and recorded for the next backup).
        bool named = false;
        for (size_t i = 0; i < ref->chunks.size(); ++i) {
          const std::string& c = ref->chunks[i];
          if (bad.count(c)) {
            mark(c);
            named = true;
            continue;
          }
          if (good.count(c)) continue;
          try {
            std::string plaintext = stream::FetchChunk(repo, c, ref->BaseOf(i));
            bytes_read += static_cast<int64_t>(plaintext.size());
            ++chunks_checked;
            good.insert(c);
          } catch (const Error& ce) {
            if (ce.code() == ErrorCode::kInterrupted) throw;
            if (ce.code() != ErrorCode::kCorruption) break;  // unreadable now: reported below
            bad.emplace(c, ce.what());
            problems.push_back(label + ": " + ce.what());
            mark(c);
            named = true;
          }
        }
        if (!named) problems.push_back(label + ": " + e.what());
      }
    }
    auto n = newest.find(m.database);
    if (n == newest.end()) {
      newest.emplace(m.database, std::make_pair(m.snapshot_time, std::move(all_chunks)));
    } else if (m.snapshot_time > n->second.first) {
      n->second = {m.snapshot_time, std::move(all_chunks)};
    }
  }

  VersionFindings versions = AuditVersions(repo, scan, url, read_data);
  problems.insert(problems.end(), versions.problems.begin(), versions.problems.end());
  WalCheckResult wal_check = CheckWalArchive(ctx, read_data);
  problems.insert(problems.end(), wal_check.problems.begin(), wal_check.problems.end());
  BaseBackupCheckResult base_check = CheckBaseBackups(ctx, stored, read_data);
  problems.insert(problems.end(), base_check.problems.begin(), base_check.problems.end());
  referenced.insert(base_check.referenced.begin(), base_check.referenced.end());

  // Recorded damage that this run disproved (read intact: stored again by another host, or a
  // false alarm) or that nothing needs any more (pruned) is forgotten.
  for (const auto& [id, detail] : recorded) {
    if (good.count(id) || (all_manifests_read && !referenced.count(id))) cat.ClearDamagedChunk(url, id);
  }

  // Which damaged backups the next backup can repair: a backup stores a chunk again only when it
  // reads exactly the same data. That is possible for chunks of a database's newest backup (the
  // data was still there then) and practically impossible for the others (it had changed).
  std::unordered_set<std::string> in_newest;
  for (const auto& [db, n] : newest) in_newest.insert(n.second.begin(), n.second.end());
  nlohmann::json damaged_json = nlohmann::json::array();
  std::vector<std::string> damage_lines;
  for (const auto& [id, d] : damaged) {
    size_t repairable = 0;
    nlohmann::json names = nlohmann::json::array();
    for (const auto& c : d.chunks) {
      repairable += in_newest.count(c) ? 1 : 0;
      names.push_back(format::Repository::ChunkName(c));
    }
    bool all = repairable == d.chunks.size();
    damaged_json.push_back({{"backup_id", id},
                            {"database", d.database},
                            {"damaged_chunks", names},
                            {"repairable_by_next_backup", all}});
    std::string line = "backup " + id + " (" + d.database + "): " + std::to_string(d.chunks.size()) +
                       " damaged chunk(s); ";
    if (all) {
      line += "repaired by the next backup if the database still holds the same data (every damaged chunk is also "
              "in the newest backup)";
    } else {
      const size_t lost_data = d.chunks.size() - repairable;
      line += std::to_string(lost_data) + (lost_data == 1 ? " of them holds" : " of them hold") +
              " data that is not in the newest backup (it has changed since): no backup will repair this one; "
              "restore another backup";
    }
    damage_lines.push_back(line);
  }

  if (ctx.options().json) {
    std::cout << nlohmann::json{{"repository", url}, {"manifests", ids.size()},
                                {"streams", streams}, {"stored_chunks", stored.size()},
                                {"read_data", read_data}, {"chunks_read", chunks_checked},
                                {"bytes_read", bytes_read}, {"ok", problems.empty()}, {"problems", problems},
                                {"lost_backups", lost}, {"damaged_backups", damaged_json},
                                {"hidden_objects", versions.hidden}, {"foreign_versions", versions.foreign},
                                {"superseded_versions", versions.superseded}, {"notes", versions.notes},
                                {"wal", wal_check.json}, {"wal_notes", wal_check.notes},
                                {"base_backups", base_check.json}}
                     .dump(2)
              << "\n";
  } else {
    for (const auto& p : problems) std::cout << "PROBLEM  " << p << "\n";
    for (const auto& l : damage_lines) std::cout << "DAMAGED  " << l << "\n";
    if (!damaged.empty()) {
      std::cout << "         the next 'dhanbak backup' stores every damaged chunk again that it meets (it no longer "
                   "trusts the damaged objects); run 'dhanbak check --read-data' after it to see what is still "
                   "damaged\n";
    }
    if (!lost.empty()) {
      std::cout << "         a lost backup cannot be restored; 'dhanbak catalog rebuild' makes the catalog forget it "
                   "(see the runbook)\n";
    }
    for (const auto& n : versions.notes) std::cout << "NOTE     " << n << "\n";
    for (const auto& n : wal_check.notes) std::cout << "NOTE     " << n << "\n";
    for (const auto& n : base_check.notes) std::cout << "NOTE     " << n << "\n";
    if (uncataloged > 0) {
      std::cout << "NOTE     " << uncataloged
                << " backup(s) in the repository are not in this catalog (written by another host, or the catalog "
                   "was lost): 'dhanbak catalog rebuild' adds them\n";
    }
    std::cout << (problems.empty() ? "ok: " : "FAILED: ") << ids.size() << " backups, " << streams << " streams, "
              << stored.size() << " stored chunks"
              << (read_data ? ", " + std::to_string(chunks_checked) + " chunks read (" +
                                  log::FormatBytes(static_cast<double>(bytes_read)) + ")"
                            : std::string())
              << (problems.empty() ? "" : ", " + std::to_string(problems.size()) + " problem(s)")
              << (lost.empty() ? "" : ", " + std::to_string(lost.size()) + " lost backup(s)")
              << (damaged.empty() ? "" : ", " + std::to_string(damaged.size()) + " damaged backup(s)")
              << (versions.hidden.empty() ? "" : ", " + std::to_string(versions.hidden.size()) + " hidden object(s)")
              << (versions.foreign.empty() ? "" : ", " + std::to_string(versions.foreign.size()) + " foreign version(s)")
              << "\n";
  }
  return problems.empty() ? 0 : 3;
}

}  // namespace dhanbak::command
