#include "command/base_backup_check.hpp"

#include "common/interrupt.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "physical/recovery_plan.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {
namespace {

// Problems of one stream of base backup `label`: missing chunks, and with `read_data` content.
void CheckStream(const format::Repository& repo, const format::StreamRef& ref, const std::string& label,
                 const std::unordered_set<std::string>& stored, bool read_data, stream::ChunkFetcher& fetcher,
                 BaseBackupCheckResult& result) {
  bool complete = true;
  for (size_t i = 0; i < ref.chunks.size(); ++i) {
    result.referenced.insert(ref.chunks[i]);
    if (!ref.BaseOf(i).empty()) result.referenced.insert(ref.BaseOf(i));
    std::string problem = format::Repository::ChunkStorageProblem(ref.chunks[i], ref.BaseOf(i), stored);
    if (!problem.empty()) {
      repo.ReportDamagedChunk(ref.chunks[i], problem + " from the repository");
      result.problems.push_back(label + ": " + problem);
      complete = false;
    }
  }
  if (!read_data || !complete) return;
  try {
    fetcher.Stream(ref, label, [](std::string_view) { ThrowIfInterrupted(); });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    result.problems.push_back(label + ": " + e.what());
  }
}

}  // namespace

BaseBackupCheckResult CheckBaseBackups(Context& ctx, const std::unordered_set<std::string>& stored, bool read_data) {
  BaseBackupCheckResult result;
  auto& repo = ctx.repository();
  stream::ChunkFetcher fetcher(repo, 4, 8);
  for (const auto& id : repo.ListBaseBackupIds()) {
    ThrowIfInterrupted();
    format::BaseBackupManifest m;
    try {
      m = repo.GetBaseBackup(id);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInterrupted) throw;
      result.problems.push_back("base backup " + id + ": " + e.what());
      continue;
    }
    const size_t before = result.problems.size();
    for (const auto& a : m.archives) {
      CheckStream(repo, a.data, "base backup " + id + ", " + a.name, stored, read_data, fetcher, result);
    }
    CheckStream(repo, m.backup_manifest, "base backup " + id + ", backup_manifest", stored, read_data, fetcher, result);
    nlohmann::json entry{{"backup_id", id}, {"restorable_from", FormatUtcIso(m.stopped_at)}};
    try {
      TimeSpec latest;
      latest.latest = true;
      physical::RecoveryPlan plan = physical::PlanRecoveryFrom(repo, m, latest);
      entry["wal_through"] = plan.last_segment;
      entry["timeline"] = plan.target_timeline;
      result.notes.push_back("base backup " + id + ": restorable from " + FormatLocalTime(m.stopped_at) +
                             ", WAL unbroken through " + plan.last_segment);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInterrupted) throw;
      result.problems.push_back("base backup " + id + ": " + e.what());
    }
    entry["ok"] = result.problems.size() == before;
    result.json.push_back(entry);
  }
  return result;
}

}  // namespace dhanbak::command
