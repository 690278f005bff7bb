#include "command/point_in_time_copy.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "command/backup.hpp"
#include "command/kept_base.hpp"
#include "common/elapsed.hpp"
#include "common/encoding.hpp"
#include "common/log.hpp"
#include "common/private_fs.hpp"
#include "common/test_pause.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "pg/connection.hpp"

namespace dhanbak::command {
namespace {

using PitrClock = std::chrono::steady_clock;

// The restored files, the WAL the replay keeps in pg_wal, and the copy-out's repository
// (compressed, at most about the database's size): an estimate on the safe side.
uint64_t ScratchBytesNeeded(const format::BaseBackupManifest& base) {
  uint64_t files = 0;
  for (const auto& a : base.archives) files += static_cast<uint64_t>(a.data.bytes);
  return files + files / 4 + 64ull * base.segment_size;
}

// Unix socket paths are limited to 107 bytes: the socket goes into the scratch area when its
// path is short enough, else into a private temporary directory.
constexpr size_t kMaxSocketDirLength = 80;

}  // namespace

PointInTimeCopy::PointInTimeCopy(Context& ctx, physical::RecoveryPlan plan, TimeSpec at)
    : ctx_(ctx), plan_(std::move(plan)), at_(at) {}

PointInTimeCopy::~PointInTimeCopy() {
  copy_ctx_.reset();
  recovery_.reset();  // stops the scratch server at once if it still runs
  socket_dir_.reset();
  scratch_.reset();   // removes the files
}

void PointInTimeCopy::Run(const std::string& database, int jobs, bool globals) {
  Prepare();
  manifest_ = CopyOut(database, jobs, globals);
  TestPausePoint("pitr-copied");
  StopServer();
}

void PointInTimeCopy::StopServer() {
  if (recovery_) recovery_->server().Stop("immediate", 60);  // nothing in it is needed any more
}

void PointInTimeCopy::Prepare() {
  if (::geteuid() == 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "a restore from the WAL archive runs a scratch PostgreSQL server, which refuses to run as root: run "
                "dhanbak as its service user (or --source nightly)");
  }
  const Config& config = ctx_.config();
  const std::string& root = config.pitr.scratch_dir;
  const auto& base = plan_.base;
  const std::string bin_dir = ReplayBinDir(config, base.server_version_num);
  CreatePrivateDirectories(root, ErrorCode::kIo, "[pitr] scratch_dir " + root);
  if (int n = RemoveScratchLeftovers(root); n > 0) {
    log::Info("removed " + std::to_string(n) + " scratch director" + (n == 1 ? "y" : "ies") + " of killed runs");
  }
  const int keep = config.pitr.scratch_keep;
  const bool kept_already = keep > 0 && std::filesystem::exists(root + "/kept-" + base.backup_id);
  CheckScratchSpace(root, ScratchBytesNeeded(base) * (keep > 0 && !kept_already ? 2 : 1),
                    "a replay of base backup " + base.backup_id + (keep > 0 && !kept_already ? " (and a kept copy)" : ""));

  scratch_ = std::make_unique<ScratchArea>(root, NewBackupId(NowMicros()));
  const std::string dir = scratch_->path();
  const std::string pgdata = dir + "/pgdata";
  std::map<std::string, std::string> locations;
  for (const auto& a : base.archives) {
    if (!a.tablespace_oid.empty()) locations[a.tablespace_oid] = dir + "/tablespaces/" + a.tablespace_oid;
  }
  CreatePrivateDirectories(pgdata, ErrorCode::kIo, "scratch data directory");
  for (const auto& [oid, location] : locations) {
    CreatePrivateDirectories(location, ErrorCode::kIo, "scratch tablespace directory");
  }
  log::Info("restoring base backup " + base.backup_id + " into " + dir);
  TestPausePoint("pitr-scratch-claimed");

  auto step = PitrClock::now();
  int64_t bytes = 0;
  const size_t threads = static_cast<size_t>(std::max(2, config.b2.connections));
  std::vector<std::string> oids;
  for (const auto& [oid, location] : locations) oids.push_back(oid);
  const bool from_kept = keep > 0 && CopyKeptBase(root, base.backup_id, dir, oids);
  if (!from_kept) RestoreBaseBackupFiles(ctx_.repository(), threads, base, pgdata, locations, bytes);
  VerifyRestoredFiles(bin_dir, pgdata);
  if (!from_kept && keep > 0) KeepBase(root, base.backup_id, dir, oids, keep);
  phases_.emplace_back("files", SecondsSince(step));

  step = PitrClock::now();
  std::string socket_dir = dir + "/socket";
  if (socket_dir.size() > kMaxSocketDirLength) {
    socket_dir_ = std::make_unique<TempDir>();
    socket_dir = socket_dir_->path();
  } else {
    CreatePrivateDirectories(socket_dir, ErrorCode::kIo, "scratch socket directory");
  }
  recovery_ = std::make_unique<RecoveryServer>(ctx_, pgdata, bin_dir, plan_, at_, socket_dir);
  reached_ = recovery_->ReplayToTarget();
  // Paused at TIME, the standby still holds the locks of the transactions in flight there (a
  // migration's ACCESS EXCLUSIVE locks until its commit record): the copy-out would wait for
  // them forever. Promoted, those transactions are rolled back, as they were not committed at TIME.
  recovery_->Promote();
  phases_.emplace_back("replay", SecondsSince(step));
  TestPausePoint("pitr-replayed");
}

format::Manifest PointInTimeCopy::CopyOut(const std::string& database, int jobs, bool globals) {
  if (recovery_->connection()
          .Query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {database})
          .empty()) {
    throw Error(ErrorCode::kNotFound, "database " + database + " did not exist at " +
                                          (at_.latest ? std::string("the end of the archive") : FormatLocalTime(at_.at)) +
                                          " (the replayed cluster has no such database)");
  }

  const auto step = PitrClock::now();
  if (!copy_ctx_) OpenCopyRepository(jobs);
  log::Info("copying " + database + " out of the replayed cluster");
  format::Manifest manifest = BackupOneDatabase(*copy_ctx_, database, jobs, globals);
  phases_.emplace_back("copy-out", SecondsSince(step));
  return manifest;
}

// The copy-out's repository: inside the scratch area, under a random key of its own.
void PointInTimeCopy::OpenCopyRepository(int jobs) {
  const Config& config = ctx_.config();
  const std::string dir = scratch_->path();
  CreatePrivateDirectories(dir + "/repository", ErrorCode::kIo, "scratch repository");
  Config copy;
  copy.source = "scratch repository of a point-in-time restore";
  copy.repository_url = "file://" + dir + "/repository";
  copy.passphrase = {"literal:" + HexEncode(crypto::RandomBytes(32)), "scratch repository key"};
  copy.catalog_path = dir + "/catalog.sqlite";
  copy.postgres.conninfo = recovery_->Conninfo("template1");  // each database named when copied
  copy.postgres.jobs = jobs;
  copy.b2.connections = config.b2.connections;
  GlobalOptions options = ctx_.options();
  options.config_path.reset();
  options.repo_url.reset();
  copy_ctx_ = std::make_unique<Context>(options, std::move(copy));
  format::Repository::Init(copy_ctx_->storage(), copy_ctx_->config().passphrase.Resolve(),
                           format::kCheapKdf);  // the key is random: no need to stretch it
}

}  // namespace dhanbak::command
