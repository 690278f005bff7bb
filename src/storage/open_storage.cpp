#include "storage/open_storage.hpp"

#include <algorithm>

#include "dhanbak/error.hpp"
#include "storage/b2/b2_storage.hpp"
#include "storage/local/local_storage.hpp"

namespace dhanbak::storage {

std::unique_ptr<Storage> OpenStorage(const std::string& url, const Config& config) {
  constexpr std::string_view kFile = "file://";
  constexpr std::string_view kB2 = "b2://";
  if (url.starts_with(kFile)) {
    std::string path = url.substr(kFile.size());
    // Only local absolute paths: "file://host/x" would silently mean something else.
    if (path.empty() || path.front() != '/') {
      throw Error(ErrorCode::kConfig, "the repository url must be file:///ABSOLUTE/PATH");
    }
    return std::make_unique<LocalStorage>(path);
  }
  if (url.starts_with(kB2)) return std::make_unique<B2Storage>(url, config.b2);
  throw Error(ErrorCode::kConfig, "the repository url has an unknown scheme (use file:// or b2://)");
}

std::unique_ptr<Storage> OpenStorageForReports(const std::string& url, const Config& config) {
  Config quick = config;
  quick.b2.retry_max_time = std::min(quick.b2.retry_max_time, std::chrono::seconds(30));
  quick.b2.stall_timeout = std::min(quick.b2.stall_timeout, std::chrono::seconds(30));
  return OpenStorage(url, quick);
}

}  // namespace dhanbak::storage
