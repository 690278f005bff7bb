#include "command/verify_pitr.hpp"

#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command/point_in_time_copy.hpp"
#include "command/restore_engine.hpp"
#include "command/wal_report.hpp"
#include "common/elapsed.hpp"
#include "common/encoding.hpp"
#include "common/log.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "physical/recovery_plan.hpp"

namespace dhanbak::command {
namespace {

using VerifyClock = std::chrono::steady_clock;

constexpr int64_t kWeekMicros = 7LL * 24 * 3600 * 1000000;
// The newest minutes may hold no commit after a random point yet: replay would end before it.
constexpr int64_t kNewestMarginMicros = 5LL * 60 * 1000000;

// A random point of the last week's restorable window.
TimeSpec RandomPoint(Context& ctx, UnixMicros now) {
  const RestorableWindow w =
      FindRestorableWindow(ctx.catalog().ListBaseBackups(ctx.repository_url()), QuickWalSummary(ctx));
  if (!w.any) throw Error(ErrorCode::kNotFound, "no point-in-time window to verify: " + w.why_none);
  const UnixMicros from = std::max(w.from, now - kWeekMicros);
  const UnixMicros to = std::max(from, w.to - kNewestMarginMicros);
  uint64_t r = 0;
  const std::string bytes = crypto::RandomBytes(sizeof r);
  std::memcpy(&r, bytes.data(), sizeof r);
  return TimeSpec{false, from + static_cast<UnixMicros>(r % static_cast<uint64_t>(to - from + 1))};
}

struct Outcome {
  catalog::PitrVerificationRecord rec;
  int exit_code = 0;
};

void Fail(Outcome& o, const Error& e) {
  o.rec.status = "failed";
  o.rec.detail = e.what();
  o.exit_code = ExitCodeFor(e.code());
}

void Print(Context& ctx, const catalog::PitrVerificationRecord& r, nlohmann::json& out) {
  out.push_back({{"database", r.database},
                 {"base_backup", r.base_backup_id},
                 {"target_time", r.target_time ? FormatUtcIso(r.target_time) : std::string("latest")},
                 {"status", r.status},
                 {"detail", r.detail},
                 {"rto_seconds", static_cast<double>(r.rto_millis) / 1000.0}});
  if (ctx.options().json) return;
  char rto[32];
  std::snprintf(rto, sizeof rto, "%.1f s", static_cast<double>(r.rto_millis) / 1000.0);
  std::cout << (r.status == "ok" ? "ok      " : "FAILED  ") << r.database << "  at "
            << (r.target_time ? FormatLocalTime(r.target_time) : std::string("latest")) << " (base backup "
            << (r.base_backup_id.empty() ? "-" : r.base_backup_id) << "), restore took " << rto << ": " << r.detail
            << "\n";
}

// The newest base backup replayed to the end of the archive, pg_amcheck clean.
Outcome VerifyChain(Context& ctx) {
  Outcome o;
  o.rec.database = "(cluster)";
  const auto start = VerifyClock::now();
  try {
    const TimeSpec latest{true, 0};
    physical::RecoveryPlan plan = physical::PlanClusterRecovery(ctx.repository(), latest);
    o.rec.base_backup_id = plan.base.backup_id;
    PointInTimeCopy copy(ctx, plan, latest);
    copy.Prepare();
    copy.Amcheck();
    o.rec.status = "ok";
    o.rec.detail = "base backup " + plan.base.backup_id + " replayed through " + plan.last_segment +
                   " to the end of the archive; pg_amcheck found every database clean";
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    Fail(o, e);
  }
  o.rec.rto_millis = static_cast<int64_t>(SecondsSince(start) * 1000);
  return o;
}

}  // namespace

int RunVerifyPitr(Context& ctx, const VerifyPitrOptions& opts) {
  const Config& config = ctx.config();
  const std::vector<std::string> databases = opts.databases.empty() ? config.postgres.databases : opts.databases;
  if (databases.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "name the databases to verify, or list them in 'postgres.databases'");
  }
  RestoreSpec spec;
  spec.conninfo = config.verify.conninfo.empty() ? config.postgres.conninfo : config.verify.conninfo;
  spec.jobs = opts.jobs.value_or(config.postgres.jobs);
  if (spec.jobs < 1) throw Error(ErrorCode::kInvalidArgument, "--jobs must be at least 1");
  spec.verify = true;
  auto locks = ctx.Lock(LockMode::kShared);
  const UnixMicros now = NowMicros();
  nlohmann::json out = nlohmann::json::array();
  int exit_code = 0;
  auto record = [&](Outcome& o) {
    o.rec.at = NowMicros();
    ctx.catalog().RecordPitrVerification(o.rec);
    Print(ctx, o.rec, out);
    if (o.exit_code != 0 && (exit_code == 0 || o.exit_code == 3)) exit_code = o.exit_code;
  };

  Outcome chain = VerifyChain(ctx);
  record(chain);

  // One replay to the random point; every database copied out of it.
  std::vector<Outcome> outcomes(databases.size());
  for (size_t i = 0; i < databases.size(); ++i) outcomes[i].rec.database = databases[i];
  const auto start = VerifyClock::now();
  try {
    const TimeSpec at = opts.at ? ParseTimeSpec(*opts.at, now) : RandomPoint(ctx, now);
    for (auto& o : outcomes) o.rec.target_time = at.at;
    log::Info("verifying point-in-time restores as of " + FormatLocalTime(at.at));
    physical::RecoveryPlan plan = physical::PlanClusterRecovery(ctx.repository(), at);
    for (auto& o : outcomes) o.rec.base_backup_id = plan.base.backup_id;
    PointInTimeCopy copy(ctx, plan, at);
    copy.Prepare();
    const double shared_seconds = SecondsSince(start);
    for (size_t i = 0; i < databases.size(); ++i) {
      Outcome& o = outcomes[i];
      const auto own = VerifyClock::now();
      spec.target = "dhanbak_verify_" + HexEncode(crypto::RandomBytes(6));
      try {
        format::Manifest manifest = copy.CopyOut(databases[i], spec.jobs, false);
        RestoreResult result;
        log::Info("verifying " + databases[i] + " as of " + FormatLocalTime(at.at) + " in scratch database " +
                  spec.target);
        RestoreInto(copy.chunks(), manifest, spec, result);
        DropDatabaseQuietly(spec.conninfo, spec.target);
        o.rec.status = "ok";
        o.rec.detail = std::to_string(result.verdicts.size()) + " tables and the schema match what was copied out";
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kInterrupted) throw;
        Fail(o, e);
      }
      o.rec.rto_millis = static_cast<int64_t>((shared_seconds + SecondsSince(own)) * 1000);
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    for (auto& o : outcomes) {
      if (o.rec.status.empty()) {
        Fail(o, e);
        o.rec.rto_millis = static_cast<int64_t>(SecondsSince(start) * 1000);
      }
    }
  }
  for (auto& o : outcomes) record(o);
  if (ctx.options().json) std::cout << nlohmann::json{{"pitr_verifications", out}}.dump(2) << "\n";
  return exit_code;
}

}  // namespace dhanbak::command
