// OpenStorage — the one place that turns a repository URL into a Storage backend.
//
//   file:///ABS/PATH        → LocalStorage(PATH)
//   b2://BUCKET[/PREFIX]    → B2Storage with the [b2] section of `config`
// Anything else throws Error(kConfig). Opening does no network traffic.
#pragma once

#include <memory>
#include <string>

#include "dhanbak/config.hpp"
#include "dhanbak/storage/storage.hpp"

namespace dhanbak::storage {

std::unique_ptr<Storage> OpenStorage(const std::string& url, const Config& config);

// OpenStorage with every retry budget cut to 30 s: for commands that report (`status`, `list`)
// and must answer during an outage instead of waiting out a backup's budget (10 minutes on B2).
std::unique_ptr<Storage> OpenStorageForReports(const std::string& url, const Config& config);

}  // namespace dhanbak::storage
