#include "command/verify.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "command/restore.hpp"
#include "command/restore_engine.hpp"
#include "common/encoding.hpp"
#include "common/log.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"

namespace dhanbak::command {

int RunVerify(Context& ctx, const VerifyOptions& o) {
  const Config& config = ctx.config();
  std::vector<std::string> databases = o.all ? config.postgres.databases : o.databases;
  if (databases.empty()) {
    throw Error(ErrorCode::kInvalidArgument, o.all ? config.source + ": 'postgres.databases' is empty"
                                                   : "name the databases to verify, or pass --all");
  }
  if (o.at && o.backup_id) throw Error(ErrorCode::kInvalidArgument, "give --at or --backup, not both");
  if (o.backup_id && databases.size() != 1) {
    throw Error(ErrorCode::kInvalidArgument, "--backup names one backup: give exactly one database");
  }
  RestoreSpec spec;
  spec.conninfo = config.verify.conninfo.empty() ? config.postgres.conninfo : config.verify.conninfo;
  if (config.verify.conninfo.empty()) {
    log::Warning("no [verify] conninfo: the scratch restores run on the production server ([postgres] conninfo), "
                 "with its load; set [verify] conninfo to a separate server");
  }
  spec.jobs = o.jobs.value_or(config.postgres.jobs);
  spec.verify = true;
  auto locks = ctx.Lock(LockMode::kShared);

  int exit_code = 0;
  nlohmann::json results = nlohmann::json::array();
  for (const auto& db : databases) {
    log::Subject subject(db);
    nlohmann::json r{{"database", db}};
    catalog::VerificationRecord rec{"", db, "failed", "", NowMicros()};
    RestoreResult result;
    try {
      catalog::BackupRecord backup = SelectBackup(ctx, db, o.at, o.backup_id);
      rec.backup_id = backup.backup_id;
      r["backup_id"] = backup.backup_id;
      r["snapshot_time"] = FormatUtcIso(backup.snapshot_time);
      spec.target = "dhanbak_verify_" + HexEncode(crypto::RandomBytes(6));
      log::Info("verifying " + db + " backup " + backup.backup_id + " in scratch database " + spec.target);
      format::Manifest manifest = FetchManifest(ctx, backup);
      RestoreInto(ctx, manifest, spec, result);
      DropDatabaseQuietly(spec.conninfo, spec.target);
      rec.status = "ok";
      rec.detail = std::to_string(result.verdicts.size()) + " tables and the schema match";
    } catch (const Error& e) {
      rec.detail = e.what();
      int code = ExitCodeFor(e.code());
      if (exit_code == 0 || code == 3) exit_code = code;
      if (e.code() == ErrorCode::kInterrupted) {
        ctx.catalog().RecordVerification(rec);
        if (ctx.options().json) {
          // Still one document: this database failed (interrupted), the later ones were never
          // attempted, which is not the same as failing.
          r["status"] = "failed";
          r["detail"] = rec.detail;
          results.push_back(r);
          for (size_t i = results.size(); i < databases.size(); ++i) {
            results.push_back({{"database", databases[i]}, {"status", "not_attempted"}});
          }
          std::cout << nlohmann::json{{"verifications", results}}.dump(2) << "\n";
        }
        throw;
      }
    }
    rec.at = NowMicros();
    ctx.catalog().RecordVerification(rec);
    r["status"] = rec.status;
    r["detail"] = rec.detail;
    r["schema_ok"] = result.schema_checked && result.schema_difference.empty();
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& v : result.verdicts) {
      tables.push_back({{"table", v.table}, {"expected_rows", v.expected_rows}, {"actual_rows", v.actual_rows},
                        {"ok", v.ok}, {"detail", v.detail}});
    }
    r["tables"] = tables;
    results.push_back(r);
    if (!ctx.options().json) {
      std::cout << (rec.status == "ok" ? "ok      " : "FAILED  ") << db << "  backup " << rec.backup_id << ": "
                << rec.detail << "\n";
    }
  }
  if (ctx.options().json) std::cout << nlohmann::json{{"verifications", results}}.dump(2) << "\n";
  return exit_code;
}

}  // namespace dhanbak::command
