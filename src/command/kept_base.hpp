// Restored base backups kept under [pitr] scratch_dir for the next point-in-time restore
// ([pitr] scratch_keep > 0), so that a second `--at` on the same day copies local files instead
// of downloading, decrypting and unpacking the base backup again, and then only replays WAL.
// `kept-<backup id>/` holds `pgdata/` and `tablespaces/<oid>/` exactly as restored and verified,
// before any server ran on them. A run copies them into its own directory (and checks the copy
// with pg_verifybackup like a fresh restore); copies are taken under a shared flock on
// `kept-<id>/lock`, removals need it exclusively. The least recently used beyond scratch_keep go.
#pragma once

#include <string>
#include <vector>

namespace dhanbak::command {

// Copies the kept files of base backup `backup_id` into `run_dir` (pgdata/, tablespaces/<oid>/,
// the pg_tblspc links re-pointed there). False, with nothing copied, when none is kept.
bool CopyKeptBase(const std::string& root, const std::string& backup_id, const std::string& run_dir,
                  const std::vector<std::string>& tablespace_oids);

// Keeps a copy of what `run_dir` holds for `backup_id` (just restored and verified), then removes
// the least recently used kept copies beyond `keep`. Failures only warn: keeping is an optimisation.
void KeepBase(const std::string& root, const std::string& backup_id, const std::string& run_dir,
              const std::vector<std::string>& tablespace_oids, int keep);

}  // namespace dhanbak::command
