#include "command/kept_base.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "physical/tar_extract.hpp"

namespace dhanbak::command {
namespace {

namespace fs = std::filesystem;

constexpr char kKeptPrefix[] = "kept-";

// An flock on `<dir>/lock`, released with the object; `ok` false when it could not be taken.
struct KeptLock {
  int fd = -1;
  bool ok = false;
  KeptLock(const std::string& dir, int operation) {
    fd = ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ok = fd >= 0 && ::flock(fd, operation) == 0;
  }
  ~KeptLock() {
    if (fd >= 0) ::close(fd);
  }
};

// pgdata/ and tablespaces/<oid>/ from `from` to `to`, the tablespace links re-pointed.
void CopyCluster(const std::string& from, const std::string& to, const std::vector<std::string>& oids) {
  const auto options = fs::copy_options::recursive | fs::copy_options::copy_symlinks;
  fs::create_directories(to + "/pgdata");
  fs::copy(from + "/pgdata", to + "/pgdata", options);
  for (const auto& oid : oids) {
    fs::create_directories(to + "/tablespaces/" + oid);
    fs::copy(from + "/tablespaces/" + oid, to + "/tablespaces/" + oid, options);
    const std::string link = to + "/pgdata/pg_tblspc/" + oid;
    fs::remove(link);
    fs::create_directory_symlink(to + "/tablespaces/" + oid, link);
  }
  fs::permissions(to + "/pgdata", fs::perms::owner_all);
  physical::SyncTree(to);
}

}  // namespace

bool CopyKeptBase(const std::string& root, const std::string& backup_id, const std::string& run_dir,
                  const std::vector<std::string>& tablespace_oids) {
  const std::string kept = root + "/" + kKeptPrefix + backup_id;
  std::error_code ec;
  if (!fs::is_directory(kept + "/pgdata", ec)) return false;
  KeptLock lock(kept, LOCK_SH);
  if (!lock.ok || !fs::is_directory(kept + "/pgdata", ec)) return false;  // removed meanwhile
  try {
    CopyCluster(kept, run_dir, tablespace_oids);
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorCode::kIo, "cannot copy the kept base backup " + kept + ": " + e.what());
  }
  fs::last_write_time(kept, fs::file_time_type::clock::now(), ec);  // recently used
  log::Info("copied base backup " + backup_id + " from " + kept + " (kept by an earlier restore)");
  return true;
}

void KeepBase(const std::string& root, const std::string& backup_id, const std::string& run_dir,
              const std::vector<std::string>& tablespace_oids, int keep) {
  const std::string kept = root + "/" + kKeptPrefix + backup_id;
  // Built inside the run's own directory (a killed run's half copy goes with it), then renamed.
  const std::string building = run_dir + "/kept";
  std::error_code ec;
  try {
    if (!fs::exists(kept, ec)) {
      CopyCluster(run_dir, building, tablespace_oids);
      for (const auto& oid : tablespace_oids) {  // the links as they will be once renamed
        fs::remove(building + "/pgdata/pg_tblspc/" + oid);
        fs::create_directory_symlink(kept + "/tablespaces/" + oid, building + "/pgdata/pg_tblspc/" + oid);
      }
      fs::rename(building, kept);
      log::Info("kept the restored base backup " + backup_id + " in " + kept + " for the next restore");
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(building, ec);
    log::Warning("could not keep the restored base backup in " + kept + " ([pitr] scratch_keep): " + e.what());
  }
  std::vector<std::pair<fs::file_time_type, std::string>> all;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(kKeptPrefix)) {
      std::error_code time_ec;
      all.emplace_back(fs::last_write_time(it->path(), time_ec), it->path().string());
    }
  }
  std::sort(all.begin(), all.end(), std::greater<>());
  for (size_t i = static_cast<size_t>(std::max(keep, 0)); i < all.size(); ++i) {
    KeptLock lock(all[i].second, LOCK_EX | LOCK_NB);
    if (!lock.ok) continue;  // in use by another restore: next time
    fs::remove_all(all[i].second, ec);
    log::Info("removed the kept base backup " + all[i].second + " ([pitr] scratch_keep = " + std::to_string(keep) + ")");
  }
}

}  // namespace dhanbak::command
