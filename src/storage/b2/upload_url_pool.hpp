// UploadUrlPool — idle (upload URL, upload token) pairs from b2_get_upload_url.
//
// B2 lets one pair carry one upload at a time, so a pair is taken out of the pool for the
// duration of an upload and returned only after a success; after any failure it is dropped and
// the next attempt fetches a fresh one (the checklist's "new upload URL and retry").
// Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dhanbak::storage::b2 {

struct UploadTarget {
  std::string url;
  std::string token;
};

class UploadUrlPool {
 public:
  explicit UploadUrlPool(size_t max_idle) : max_idle_(max_idle) {}

  std::optional<UploadTarget> Take();
  void Return(UploadTarget target);
  size_t idle() const;

 private:
  const size_t max_idle_;
  mutable std::mutex mu_;
  std::vector<UploadTarget> idle_;
};

}  // namespace dhanbak::storage::b2
