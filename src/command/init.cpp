#include "command/init.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/log.hpp"
#include "common/private_fs.hpp"
#include "format/repository.hpp"

namespace dhanbak::command {

void CheckPassphraseStrength(const std::string& passphrase, const std::string& what, bool allow_weak) {
  if (PassphraseLength(passphrase) >= kMinPassphraseChars) return;
  const std::string problem = what + " is shorter than " + std::to_string(kMinPassphraseChars) +
                              " characters: anyone who obtains the repository can guess it";
  if (!allow_weak) {
    throw Error(ErrorCode::kConfig, problem + "; choose a longer one (several random words), or pass "
                                              "--allow-weak-passphrase if you really mean it");
  }
  log::Warning(problem + " (accepted because of --allow-weak-passphrase)");
}

format::KdfParams KdfForNewKeys() {
  const char* weaken = std::getenv("DHANBAK_TESTONLY_WEAKEN_KDF");
  if (weaken == nullptr || std::string_view(weaken) != "1") return {};
  log::Warning("DHANBAK_TESTONLY_WEAKEN_KDF=1: the new key's passphrase is stretched with scrypt N=2^10 only; "
               "for tests, never for a repository that holds real backups");
  return format::kCheapKdf;
}

namespace {

// True when the repository location holds anything at all. For a local directory every entry
// counts (also hidden files and empty subdirectories); for B2 every object under the prefix.
bool LocationHasContent(Context& ctx, storage::Storage& storage) {
  const std::string url = ctx.repository_url();
  if (url.starts_with("file://")) {
    std::error_code ec;
    std::filesystem::directory_iterator it(url.substr(7), ec);
    if (!ec && it != std::filesystem::directory_iterator()) return true;
  }
  bool any = false;
  storage.List("", [&](const storage::ObjectInfo&) { any = true; });
  return any;
}

}  // namespace

int RunInit(Context& ctx, bool allow_weak_passphrase) {
  const Config& config = ctx.config();
  if (config.passphrase.empty()) {
    throw Error(ErrorCode::kConfig, config.source + ": key 'repository.passphrase' is required");
  }
  const std::string passphrase = config.passphrase.Resolve();
  CheckPassphraseStrength(passphrase, "the passphrase (" + config.passphrase.origin + ")", allow_weak_passphrase);
  const std::string url = ctx.repository_url();
  if (url.starts_with("file://")) {
    std::error_code ec;
    auto status = std::filesystem::status(url.substr(7), ec);
    if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
      throw Error(ErrorCode::kInvalidArgument, "cannot create a repository at " + url.substr(7) + ": it is not a directory");
    }
    CreatePrivateDirectories(url.substr(7), ErrorCode::kIo, "repository directory");
  }
  storage::Storage& storage = ctx.storage();
  if (LocationHasContent(ctx, storage)) {
    if (storage.Stat("config")) {
      throw Error(ErrorCode::kInvalidArgument, "a repository already exists at " + storage.Describe());
    }
    bool only_keys = true, any_object = false;
    storage.List("", [&](const storage::ObjectInfo& o) {
      any_object = true;
      only_keys = only_keys && o.name.starts_with("keys/");
    });
    if (any_object && only_keys) {
      throw Error(ErrorCode::kInvalidArgument,
                  storage.Describe() + " holds keys but no repository config: an earlier init did not finish. "
                                       "Remove its contents and run init again; nothing was written");
    }
    throw Error(ErrorCode::kInvalidArgument,
                storage.Describe() + " is not empty and is not a dhanbak repository: init writes only into an empty "
                                     "directory or bucket prefix; nothing was written");
  }
  format::Repository::Init(storage, passphrase, KdfForNewKeys());
  auto repo = format::Repository::Open(storage, passphrase);
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"repository_id", repo->repository_id()},
                                {"location", storage.Describe()},
                                {"key_id", repo->unlocked_key_id()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "created repository " << repo->repository_id() << " at " << storage.Describe() << "\n"
            << "key " << repo->unlocked_key_id() << " unlocks it; keep the passphrase safe: without it no backup can be read\n";
  return 0;
}

}  // namespace dhanbak::command
