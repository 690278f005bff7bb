#include "stream/chunk_uploader.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "common/interrupt.hpp"
#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "format/sealed_object.hpp"

namespace dhanbak::stream {

ChunkUploader::ChunkUploader(const format::Repository& repo, size_t threads, size_t max_in_flight,
                             size_t max_in_flight_bytes)
    : repo_(repo), max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight),
      max_in_flight_bytes_(max_in_flight_bytes),
      // As many buffers as can be in use at once: one per chunker (at most one COPY job per
      // thread) and one per chunk in flight. More are never needed, so none is freed in a run.
      buffers_(max_in_flight_ + threads, repo.chunker_params().max_size, repo.chunker_params().typical_size()),
      pool_(threads) {}

ChunkUploader::~ChunkUploader() {
  // Let queued uploads finish (or fail) before members go away.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
}

namespace {

// A delta is kept only when it is at most this fraction of the whole chunk's sealed size: below
// that, reading two objects instead of one is worth the space; above, the chunk is stored whole
// and becomes the base later deltas are taken against (so deltas never grow without bound).
constexpr size_t kDeltaMaxShareOfWhole = 2;  // at most 1/2
// A delta this small against the plaintext is kept without compressing the chunk whole too.
constexpr size_t kDeltaSurelySmaller = 16;  // at most 1/16 of the plaintext

// Records that chunk `id` is stored (as a delta against `base` when not empty). A whole copy is
// preferred: reading it takes one object.
void NoteStored(std::unordered_map<std::string, std::string>& known, const std::string& id, const std::string& base) {
  auto [it, inserted] = known.emplace(id, base);
  if (!inserted && base.empty()) it->second.clear();
}

}  // namespace

void ChunkUploader::LoadExisting() {
  std::unordered_map<std::string, std::string> found;  // listed without holding the lock
  repo_.storage().List("chunks/", [&](const storage::ObjectInfo& o) {
    if (auto chunk = format::Repository::ParseChunkName(o.name)) NoteStored(found, chunk->id, chunk->base);
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, base] : found) NoteStored(known_, id, base);
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

std::string ChunkUploader::DeltaBaseFor(const std::string& id, const ChunkHint& hint) const {
  if (hint.id.empty() || distrusted_.count(id)) return "";  // a chunk stored anew is stored whole
  const std::string& whole = hint.base.empty() ? hint.id : hint.base;
  if (whole == id) return "";  // the same chunk, hidden or distrusted: stored anew, whole
  auto it = known_.find(whole);
  if (it == known_.end() || !it->second.empty() || distrusted_.count(whole)) return "";
  return whole;
}

namespace {

// The upload thread's sealed-object buffer, kept from one chunk to the next for the reason the
// chunk buffers are pooled (buffer_pool.hpp). Created at the largest chunk's bound, uninitialised:
// only the pages a sealed chunk fills are ever resident.
char* SealScratch(size_t bytes) {
  thread_local std::unique_ptr<char[]> buffer;
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    buffer.reset();
    buffer.reset(new char[bytes]);
    capacity = bytes;
  }
  return buffer.get();
}

}  // namespace

std::string_view ChunkUploader::Seal(const std::string& id, const std::string& plaintext, const std::string& base,
                                     std::string& stored_base, std::string& delta) const {
  stored_base.clear();
  char* whole = SealScratch(format::SealedBound(std::max(plaintext.size(), repo_.chunker_params().max_size)));
  if (!base.empty()) {
    try {
      delta = repo_.SealDeltaChunk(id, plaintext, base, repo_.ReadChunk(base));
      if (delta.size() <= plaintext.size() / kDeltaSurelySmaller) {
        stored_base = base;
        return delta;
      }
      const size_t whole_size = repo_.SealChunkInto(whole, id, plaintext);
      if (delta.size() <= whole_size / kDeltaMaxShareOfWhole) {
        stored_base = base;
        return delta;
      }
      return {whole, whole_size};
    } catch (const Error& e) {
      // An unreadable base (reported damaged by ReadChunk's readers) only costs the space saving.
      if (e.code() != ErrorCode::kCorruption && e.code() != ErrorCode::kNotFound) throw;
      log::Debug("chunk " + id + " stored whole: its base " + base + " cannot be read: " + e.what());
    }
  }
  return {whole, repo_.SealChunkInto(whole, id, plaintext)};
}

void ChunkUploader::RecordBases(format::StreamRef& ref) const {
  std::lock_guard<std::mutex> lock(mu_);
  ref.bases.assign(ref.chunks.size(), "");
  bool any = false;
  for (size_t i = 0; i < ref.chunks.size(); ++i) {
    auto it = known_.find(ref.chunks[i]);
    if (it != known_.end() && !it->second.empty()) {
      ref.bases[i] = it->second;
      any = true;
    }
  }
  if (!any) ref.bases.clear();
}

std::string ChunkUploader::Add(std::string&& plaintext, const ChunkHint& hint) {
  std::string id = repo_.ChunkId(plaintext);
  std::string base;
  {
    std::unique_lock<std::mutex> lock(mu_);
    RethrowIfFailed();
    if (!known_.emplace(id, "").second) {
      ++reused_chunks_;
      buffers_.Give(std::move(plaintext));
      return id;
    }
    base = DeltaBaseFor(id, hint);
    const size_t bytes = plaintext.size();
    cv_.wait(lock, [&] {
      return (in_flight_ < max_in_flight_ && (in_flight_ == 0 || in_flight_bytes_ + bytes <= max_in_flight_bytes_)) ||
             error_;
    });
    if (error_) {
      known_.erase(id);  // never queued: not stored, so a later stream must store it
      buffers_.Give(std::move(plaintext));
      RethrowIfFailed();
    }
    ++in_flight_;
    in_flight_bytes_ += bytes;
  }
  pool_.Submit([this, id, base, data = std::move(plaintext)]() mutable {
    std::exception_ptr failure;
    std::string stored_base;
    const size_t bytes = data.size();
    try {
      ThrowIfInterrupted();
      std::string delta;
      std::string_view sealed = Seal(id, data, base, stored_base, delta);
      repo_.storage().Put(format::Repository::ChunkName(id, stored_base), sealed);
      stored_bytes_ += static_cast<int64_t>(sealed.size());
      ++new_chunks_;
      if (!stored_base.empty()) ++delta_chunks_;
    } catch (...) {
      failure = std::current_exception();
    }
    buffers_.Give(std::move(data));
    std::lock_guard<std::mutex> lock(mu_);
    if (failure && !error_) error_ = failure;
    if (failure) known_.erase(id);
    if (!failure) known_[id] = stored_base;
    if (!failure && distrusted_.erase(id)) restored_.push_back(id);
    --in_flight_;
    in_flight_bytes_ -= bytes;
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
