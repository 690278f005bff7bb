// Context — what every command needs, opened lazily in the right order: configuration,
// storage, the unlocked repository, the catalog and the run locks. Lazy opening means that
// `list` never asks for the passphrase, and that `--help` never reads a config file.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "dhanbak/catalog/catalog.hpp"
#include "dhanbak/config.hpp"
#include "dhanbak/storage/storage.hpp"
#include "format/repository.hpp"

namespace dhanbak::command {

struct GlobalOptions {
  std::optional<std::string> config_path;
  std::optional<std::string> repo_url;
  bool json = false;
  bool quiet = false;
  bool verbose = false;
  bool no_progress = false;
  bool allow_root = false;
};

// An flock(2) held for the life of the object.
class FileLock {
 public:
  FileLock(int fd) : fd_(fd) {}
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~FileLock();

 private:
  int fd_;
};

enum class LockMode {
  kBackup,    // one backup at a time; restores and verifications may run beside it
  kBaseBackup, // one base backup at a time; anything but prune may run beside it
  kShared,    // restore, verify: anything but prune
  kExclusive, // prune: nothing else
};

class Context {
 public:
  explicit Context(GlobalOptions options);
  // A context on a configuration built in memory (a point-in-time restore's scratch repository).
  Context(GlobalOptions options, Config config);
  ~Context();

  const GlobalOptions& options() const { return options_; }
  const Config& config();
  std::string repository_url();
  storage::Storage& storage();
  // Chunks that readers of this repository find missing or corrupted are recorded in the
  // catalog (Catalog::RecordDamagedChunk), whatever the command.
  format::Repository& repository();
  catalog::Catalog& catalog();
  // Throws Error(kLocked) naming the holder when another run holds a conflicting lock.
  std::vector<FileLock> Lock(LockMode mode);

 private:
  GlobalOptions options_;
  std::optional<Config> config_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<format::Repository> repository_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::mutex catalog_mu_;  // catalog() may first be called from a download thread (damage reports)
};

}  // namespace dhanbak::command
