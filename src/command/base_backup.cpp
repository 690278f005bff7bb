#include "command/base_backup.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "command/backup.hpp"
#include "command/manifest_record.hpp"
#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "common/test_pause.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/run_lock.hpp"
#include "pg/replication.hpp"
#include "stream/chunk_uploader.hpp"
#include "stream/stream_writer.hpp"
#include "wal/wal_archive.hpp"

namespace dhanbak::command {
namespace {

using Clock = std::chrono::steady_clock;

// "16MB" / "1GB" (SHOW wal_segment_size) → bytes.
uint32_t ParseSegmentSize(const std::string& shown) {
  size_t digits = 0;
  while (digits < shown.size() && std::isdigit(static_cast<unsigned char>(shown[digits]))) ++digits;
  if (digits == 0) throw Error(ErrorCode::kPg, "unexpected wal_segment_size '" + shown + "'");
  uint64_t n = std::stoull(shown.substr(0, digits));
  std::string unit = shown.substr(digits);
  if (unit == "MB") n <<= 20;
  else if (unit == "GB") n <<= 30;
  else if (unit == "kB") n <<= 10;
  else if (!unit.empty()) throw Error(ErrorCode::kPg, "unexpected wal_segment_size '" + shown + "'");
  return static_cast<uint32_t>(n);
}

// What makes the server's WAL useless for point-in-time restores, or "".
std::string ArchivingProblem(pg::ReplicationConnection& conn, bool on_standby) {
  const std::string level = conn.Show("wal_level");
  if (level == "minimal") {
    return "the server's wal_level is minimal: its WAL cannot rebuild a base backup (set wal_level = replica)";
  }
  // A hot standby's own archive_mode says nothing: its primary archives the WAL (or the
  // standby does, with archive_mode = always); WaitForWal finds out either way.
  if (on_standby) return "";
  const std::string mode = conn.Show("archive_mode");
  if (mode == "off") {
    return "the server does not archive its WAL (archive_mode = off): a base backup needs the WAL from its start "
           "to its stop in the repository (set archive_mode = on and archive_command = 'dhanbak -c FILE wal-push %p', "
           "docs/operations.md \"Archiving the WAL\")";
  }
  return "";
}

// Collects the COPY stream of BASE_BACKUP into one chunked stream per tar archive and one for
// the server's backup_manifest.
class ArchiveCollector {
 public:
  ArchiveCollector(stream::ChunkUploader& uploader, const format::Repository& repo,
                   const std::vector<pg::TablespaceInfo>& tablespaces, Progress& progress)
      : uploader_(uploader), repo_(repo), tablespaces_(tablespaces), progress_(progress) {}

  pg::BaseBackupSink Sink() {
    pg::BaseBackupSink sink;
    sink.new_archive = [this](const std::string& name, const std::string& path) { NewArchive(name, path); };
    sink.archive_data = [this](std::string_view data) {
      writer_->Write(data);
      progress_.Add(static_cast<int64_t>(data.size()));
    };
    sink.manifest_start = [this] {
      CloseArchive();
      writer_.emplace(uploader_, repo_.chunker_params(), false);
      in_manifest_ = true;
    };
    sink.manifest_data = [this](std::string_view data) { writer_->Write(data); };
    return sink;
  }

  // After the stream: the archives and the manifest, with their bases once the uploader is flushed.
  void Finish(format::BaseBackupManifest& m) {
    if (!in_manifest_ || !writer_) throw Error(ErrorCode::kPg, "the server sent no backup_manifest");
    m.backup_manifest = writer_->Finish();
    writer_.reset();
    m.archives = std::move(archives_);
  }

 private:
  void NewArchive(const std::string& name, const std::string& path) {
    CloseArchive();
    format::BaseBackupArchive a;
    a.name = name;
    a.location = path;
    for (const auto& t : tablespaces_) {
      if (!t.location.empty() && t.location == path) a.tablespace_oid = t.oid;
    }
    if (!path.empty() && a.tablespace_oid.empty()) {
      throw Error(ErrorCode::kPg, "the server sent archive " + name + " of an unknown tablespace (" + path + ")");
    }
    archives_.push_back(std::move(a));
    writer_.emplace(uploader_, repo_.chunker_params(), false);
  }
  void CloseArchive() {
    if (writer_ && !in_manifest_) archives_.back().data = writer_->Finish();
    writer_.reset();
  }

  stream::ChunkUploader& uploader_;
  const format::Repository& repo_;
  const std::vector<pg::TablespaceInfo>& tablespaces_;
  Progress& progress_;
  std::optional<stream::StreamWriter> writer_;
  bool in_manifest_ = false;
  std::vector<format::BaseBackupArchive> archives_;
};

// Waits until every segment from m.start_wal to m.stop_wal is in the archive.
void WaitForWal(const format::BaseBackupManifest& m, const format::Repository& repo, std::chrono::seconds timeout,
                uint64_t start_segno, uint64_t stop_segno) {
  wal::WalArchive archive(repo);
  const auto started = Clock::now();
  auto last_note = started;
  uint64_t next = start_segno;
  log::Info("waiting for the WAL of the base backup to be archived (" + m.start_wal + " to " + m.stop_wal + ")");
  while (next <= stop_segno) {
    ThrowIfInterrupted();
    std::string name = wal::SegmentFileName(m.stop_timeline, next, m.segment_size);
    if (!archive.StoredHashes(*wal::WalFile::Parse(name)).empty()) {
      ++next;
      continue;
    }
    auto now = Clock::now();
    if (now - started > timeout) {
      throw Error(ErrorCode::kNotFound,
                  "the WAL this base backup needs did not reach the archive within " +
                      std::to_string(timeout.count()) + " s: " + name + " is missing (segments " + m.start_wal +
                      " to " + m.stop_wal + " are needed). Is archive_command set to dhanbak wal-push with this "
                      "repository ('dhanbak check' tries it)? The base backup is not kept: it could not be restored");
    }
    if (now - last_note > std::chrono::seconds(30)) {
      log::Info("still waiting for " + name + " to be archived");
      last_note = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void PrintSummary(const format::BaseBackupManifest& m, int64_t stored_bytes, bool json) {
  const double seconds = static_cast<double>(m.finished_at - m.started_at) / 1e6;
  if (json) {
    nlohmann::json j{{"backup_id", m.backup_id},
                     {"system_identifier", m.system_identifier},
                     {"server_version", m.server_version},
                     {"timeline", m.stop_timeline},
                     {"start_lsn", m.start_lsn},
                     {"stop_lsn", m.stop_lsn},
                     {"start_wal", m.start_wal},
                     {"stop_wal", m.stop_wal},
                     {"started_at", FormatUtcIso(m.started_at)},
                     {"stopped_at", FormatUtcIso(m.stopped_at)},
                     {"bytes", m.Bytes()},
                     {"stored_bytes", stored_bytes},
                     {"archives", m.archives.size()},
                     {"seconds", seconds}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "base backup " << m.backup_id << ": " << log::FormatBytes(static_cast<double>(m.Bytes())) << " in "
            << m.archives.size() << " archive(s), " << log::FormatBytes(static_cast<double>(stored_bytes))
            << " new in the repository, WAL " << m.start_wal << " to " << m.stop_wal << " (timeline "
            << m.stop_timeline << "), restorable from " << FormatLocalTime(m.stopped_at) << ", took "
            << static_cast<int64_t>(seconds + 0.5) << " s\n";
}

}  // namespace

int RunBaseBackup(Context& ctx) {
  const Config& config = ctx.config();
  if (config.postgres.conninfo.empty()) {
    throw Error(ErrorCode::kConfig, "base-backup needs [postgres] conninfo (a role with the REPLICATION attribute)");
  }
  auto locks = ctx.Lock(LockMode::kBaseBackup);
  format::Repository& repo = ctx.repository();
  const std::string url = ctx.repository_url();
  if (int stale = ctx.catalog().MarkBaseBackupsInterrupted(url); stale > 0) {
    log::Warning(std::to_string(stale) + " earlier base backup run(s) had been interrupted; marked failed");
  }

  pg::ReplicationConnection conn(config.postgres.conninfo);
  if (conn.server_version_num() < 150000) {
    throw Error(ErrorCode::kPg, "base-backup needs PostgreSQL 15 or later (the server is version " +
                                    std::to_string(conn.server_version_num()) + ")");
  }
  const bool on_standby = conn.Show("in_hot_standby") == "on";
  if (std::string problem = ArchivingProblem(conn, on_standby); !problem.empty()) {
    throw Error(ErrorCode::kConfig, problem);
  }
  if (on_standby) {
    log::Info("taking the base backup on a hot standby: the primary's archive_command (or the standby's, with "
              "archive_mode = always) must push the WAL into this repository; the last segment arrives when the "
              "primary switches to the next (archive_timeout)");
  }
  const pg::SystemIdentity identity = conn.IdentifySystem();
  format::BaseBackupManifest m;
  m.system_identifier = identity.system_identifier;
  m.segment_size = ParseSegmentSize(conn.Show("wal_segment_size"));
  m.server_version = conn.Show("server_version");
  m.server_version_num = conn.server_version_num();
  if (auto archived = wal::WalArchive(repo).Identity()) {
    if (std::to_string(archived->system_identifier) != identity.system_identifier) {
      throw Error(ErrorCode::kConfig, "the repository's WAL archive holds another cluster's WAL (system identifier " +
                                          std::to_string(archived->system_identifier) + "; this server is " +
                                          identity.system_identifier +
                                          "): a base backup here could never be recovered. Use another repository");
    }
  }

  m.started_at = NowMicros();
  m.backup_id = NewBackupId(m.started_at);
  m.label = "dhanbak " + m.backup_id;
  catalog::BaseBackupRecord rec;
  rec.backup_id = m.backup_id;
  rec.repository = url;
  rec.status = "running";
  rec.started_at = m.started_at;
  rec.system_identifier = m.system_identifier;
  rec.server_version = m.server_version;
  ctx.catalog().RecordBaseBackup(rec);
  try {
    // Seen by prune on any machine: chunks this run reuses must not be swept meanwhile.
    format::RunLock run_lock(ctx.storage(), "base-backup", format::LockKind::kShared);
    const size_t threads = static_cast<size_t>(std::max(2, config.b2.connections));
    stream::ChunkUploader uploader(repo, threads, threads * 2);
    uploader.LoadExisting();
    TestPausePoint("base-backup-locked");

    const pg::BaseBackupStart start = conn.StartBaseBackup(m.label);
    m.start_lsn = start.start_lsn;
    m.start_timeline = start.timeline;
    int64_t expected = 0;
    for (const auto& t : start.tablespaces) expected += std::max<int64_t>(0, t.size);
    {
      Progress progress("base backup", expected);
      ArchiveCollector collector(uploader, repo, start.tablespaces, progress);
      conn.ReadBaseBackup(collector.Sink(), [] { return Interrupted(); });
      collector.Finish(m);
    }
    const pg::BaseBackupEnd end = conn.FinishBaseBackup();
    m.stopped_at = NowMicros();
    m.stop_lsn = end.stop_lsn;
    m.stop_timeline = end.timeline;
    uploader.Flush();
    for (auto& a : m.archives) uploader.RecordBases(a.data);
    uploader.RecordBases(m.backup_manifest);
    rec.stored_bytes = uploader.stored_bytes();
    TestPausePoint("base-backup-streamed");
    if (m.start_timeline != m.stop_timeline) {
      throw Error(ErrorCode::kPg, "the server changed timeline during the base backup (" +
                                      std::to_string(m.start_timeline) + " to " + std::to_string(m.stop_timeline) +
                                      "); take it again");
    }
    const uint64_t start_segno = pg::ParseLsn(m.start_lsn) / m.segment_size;
    const uint64_t stop_segno = std::max(start_segno, (pg::ParseLsn(m.stop_lsn) - 1) / m.segment_size);
    m.start_wal = wal::SegmentFileName(m.start_timeline, start_segno, m.segment_size);
    m.stop_wal = wal::SegmentFileName(m.stop_timeline, stop_segno, m.segment_size);
    WaitForWal(m, repo, config.pitr.wal_wait_timeout, start_segno, stop_segno);
    if (!run_lock.Intact()) {
      // A prune may have judged this run abandoned and swept chunks it reused: check them again.
      run_lock.Reacquire();
      if (auto missing = uploader.Resync(m.NeededChunks()); !missing.empty()) {
        throw Error(ErrorCode::kLocked, std::to_string(missing.size()) +
                                            " chunk(s) of this base backup were removed by a prune that ran while it "
                                            "was stalled; take it again");
      }
    }
    m.finished_at = NowMicros();
    repo.PutBaseBackup(m);
    rec.status = "ok";
    rec.manifest_name = format::kBaseBackupsPrefix + m.backup_id;
  } catch (const std::exception& e) {
    rec.status = "failed";
    rec.error = e.what();
    rec.finished_at = NowMicros();
    try {
      ctx.catalog().RecordBaseBackup(rec);
    } catch (const std::exception&) {
      // The original error is what the user must see.
    }
    throw;
  }
  rec = RecordFromBaseBackup(m, url, rec.stored_bytes);
  ctx.catalog().RecordBaseBackup(rec);
  PrintSummary(m, rec.stored_bytes, ctx.options().json);
  return 0;
}

}  // namespace dhanbak::command
