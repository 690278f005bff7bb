#include "command/init.hpp"

#include <iostream>

#include "common/log.hpp"
#include "format/repository.hpp"

namespace dhanbak::command {

int RunInit(Context& ctx) {
  const Config& config = ctx.config();
  if (config.passphrase.empty()) {
    throw Error(ErrorCode::kConfig, config.source + ": key 'repository.passphrase' is required");
  }
  storage::Storage& storage = ctx.storage();
  format::Repository::Init(storage, config.passphrase.Resolve());
  auto repo = format::Repository::Open(storage, config.passphrase.Resolve());
  std::cout << "created repository " << repo->repository_id() << " at " << storage.Describe() << "\n"
            << "key " << repo->unlocked_key_id() << " unlocks it; keep the passphrase safe: without it no backup can be read\n";
  return 0;
}

}  // namespace dhanbak::command
