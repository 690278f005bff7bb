#include "command/context.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.hpp"
#include "common/private_fs.hpp"
#include "dhanbak/error.hpp"
#include "storage/open_storage.hpp"

namespace dhanbak::command {
namespace {

FileLock TakeLock(const std::string& path, int operation, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(ErrorCode::kIo, "cannot open lock file '" + path + "': " + std::strerror(errno));
  if (::flock(fd, operation | LOCK_NB) != 0) {
    char buf[64] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    ::close(fd);
    throw Error(ErrorCode::kLocked, "another dhanbak run holds the " + what + " lock (" + path + ")" +
                                        (holder.empty() ? "" : ", held by " + holder) + "; try again when it ends");
  }
  if (operation == LOCK_EX) {
    std::string me = "pid " + std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, me.data(), me.size(), 0);
  }
  return FileLock(fd);
}

}  // namespace

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Context::Context(GlobalOptions options) : options_(std::move(options)) {}
Context::Context(GlobalOptions options, Config config) : options_(std::move(options)), config_(std::move(config)) {}
Context::~Context() = default;

const Config& Context::config() {
  if (!config_) {
    Config loaded = LoadConfig(FindConfigPath(options_.config_path));
    // Without a repository nothing can run; saying so here keeps a config that is not one
    // (-c /dev/null, an empty file) from sending dhanbak to default paths.
    if (loaded.repository_url.empty() && !options_.repo_url) {
      throw Error(ErrorCode::kConfig, loaded.source + ": key 'repository.url' is required (or give --repo URL)");
    }
    config_ = std::move(loaded);
  }
  return *config_;
}

std::string Context::repository_url() {
  // Normalised once where the URL enters, so equivalent spellings are one catalog repository.
  if (options_.repo_url) return NormalizeRepositoryUrl(*options_.repo_url, "--repo");
  return config().repository_url;
}

storage::Storage& Context::storage() {
  if (!storage_) {
    // --repo without a config file is allowed for file:// repositories.
    if (options_.repo_url && !config_) {
      try {
        config();
      } catch (const Error& e) {
        if (!options_.repo_url->starts_with("file://")) throw;
        config_ = Config{};
      }
    }
    storage_ = storage::OpenStorage(repository_url(), config());
  }
  return *storage_;
}

format::Repository& Context::repository() {
  if (!repository_) {
    if (config().passphrase.empty()) {
      throw Error(ErrorCode::kConfig, config().source + ": key 'repository.passphrase' is required");
    }
    repository_ = format::Repository::Open(storage(), config().passphrase.Resolve());
    repository_->SetDamageSink([this, url = repository_url()](const std::string& id, const std::string& detail) {
      catalog().RecordDamagedChunk(url, id, detail);
    });
  }
  return *repository_;
}

catalog::Catalog& Context::catalog() {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  if (!catalog_) catalog_ = catalog::Catalog::Open(config().catalog_path);
  return *catalog_;
}

std::vector<FileLock> Context::Lock(LockMode mode) {
  std::string base = config().catalog_path;
  CreatePrivateDirectories(std::filesystem::path(base).parent_path().string(), ErrorCode::kIo, "catalog " + base);
  std::vector<FileLock> locks;
  if (mode == LockMode::kBackup) locks.push_back(TakeLock(base + ".backup.lock", LOCK_EX, "backup"));
  if (mode == LockMode::kBaseBackup) locks.push_back(TakeLock(base + ".base-backup.lock", LOCK_EX, "base backup"));
  locks.push_back(TakeLock(base + ".repo.lock", mode == LockMode::kExclusive ? LOCK_EX : LOCK_SH, "repository"));
  return locks;
}

}  // namespace dhanbak::command
