#include "storage/b2/upload_url_pool.hpp"

namespace dhanbak::storage::b2 {

std::optional<UploadTarget> UploadUrlPool::Take() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return std::nullopt;
  UploadTarget target = std::move(idle_.back());
  idle_.pop_back();
  return target;
}

void UploadUrlPool::Return(UploadTarget target) {
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(target));
}

size_t UploadUrlPool::idle() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

}  // namespace dhanbak::storage::b2
