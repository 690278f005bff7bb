#include "stream/chunk_uploader.hpp"

#include <utility>

#include "common/interrupt.hpp"

namespace dhanbak::stream {

ChunkUploader::ChunkUploader(const format::Repository& repo, size_t threads, size_t max_in_flight)
    : repo_(repo), max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight), pool_(threads) {}

ChunkUploader::~ChunkUploader() {
  // Let queued uploads finish (or fail) before members go away.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
}

void ChunkUploader::LoadExisting() {
  std::unordered_set<std::string> ids;
  repo_.storage().List("chunks/", [&](const storage::ObjectInfo& o) {
    auto slash = o.name.rfind('/');
    ids.insert(o.name.substr(slash + 1));
  });
  std::lock_guard<std::mutex> lock(mu_);
  known_.merge(ids);
}

std::vector<std::string> ChunkUploader::Resync(const std::vector<std::string>& needed) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    known_.clear();
  }
  LoadExisting();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : distrusted_) known_.erase(id);
  std::vector<std::string> missing;
  for (const auto& id : needed)
    if (!known_.count(id)) missing.push_back(id);
  return missing;
}

void ChunkUploader::Distrust(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : ids) {
    known_.erase(id);
    distrusted_.insert(id);
  }
}

std::vector<std::string> ChunkUploader::TakeRestored() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(restored_, {});
}

int64_t ChunkUploader::existing_chunks() const {
  return static_cast<int64_t>(known_.size());
}

void ChunkUploader::RethrowIfFailed() {
  if (error_) std::rethrow_exception(error_);
}

std::string ChunkUploader::Add(std::string&& plaintext) {
  std::string id = repo_.ChunkId(plaintext);
  {
    std::unique_lock<std::mutex> lock(mu_);
    RethrowIfFailed();
    if (!known_.insert(id).second) {
      ++reused_chunks_;
      return id;
    }
    cv_.wait(lock, [this] { return in_flight_ < max_in_flight_ || error_; });
    if (error_) {
      known_.erase(id);  // never queued: not stored, so a later stream must store it
      RethrowIfFailed();
    }
    ++in_flight_;
  }
  pool_.Submit([this, id, data = std::move(plaintext)] {
    std::exception_ptr failure;
    try {
      ThrowIfInterrupted();
      std::string sealed = repo_.SealChunk(id, data);
      repo_.storage().Put(format::Repository::ChunkName(id), sealed);
      stored_bytes_ += static_cast<int64_t>(sealed.size());
      ++new_chunks_;
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (failure && !error_) error_ = failure;
    if (failure) known_.erase(id);
    if (!failure && distrusted_.erase(id)) restored_.push_back(id);
    --in_flight_;
    cv_.notify_all();
  });
  return id;
}

void ChunkUploader::Recover() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
  error_ = nullptr;
}

void ChunkUploader::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
  RethrowIfFailed();
}

}  // namespace dhanbak::stream
