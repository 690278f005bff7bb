#include "stream/stream_writer.hpp"

#include <algorithm>

namespace dhanbak::stream {
namespace {

// An anchor identifies a chunk by its first row (at most this many bytes of it), keyed with the
// chunk-id key so that it says nothing about the content to someone without the repository key.
constexpr size_t kAnchorRowBytes = 256;
constexpr size_t kAnchorHexDigits = 16;

std::string AnchorOf(const format::Repository& repo, std::string_view chunk) {
  size_t end = std::min({chunk.find('\n'), chunk.size(), kAnchorRowBytes});
  return repo.ChunkId(chunk.substr(0, end)).substr(0, kAnchorHexDigits);
}

}  // namespace

StreamWriter::StreamWriter(ChunkUploader& uploader, const ChunkerParams& params, bool row_aligned,
                           const format::StreamRef* previous)
    : uploader_(uploader), repo_(uploader.repository()), row_aligned_(row_aligned),
      previous_(row_aligned && previous && !previous->chunks.empty() ? previous : nullptr),
      chunker_(params, row_aligned, &uploader.buffers()) {
  if (previous_) {
    for (size_t i = 0; i < previous_->anchors.size(); ++i) previous_by_anchor_.emplace(previous_->anchors[i], i);
  }
}

// A chunk starting with the same row as one of the previous stream's holds (mostly) the same rows:
// content-defined boundaries fall in the same places wherever the rows around them did not
// change. Otherwise — its first row was updated or deleted — it most likely replaces the chunk
// after the one the previous new chunk replaced.
ChunkHint StreamWriter::HintFor(const std::string& anchor) {
  if (!previous_) return {};
  if (auto it = previous_by_anchor_.find(anchor); it != previous_by_anchor_.end()) cursor_ = it->second;
  if (cursor_ >= previous_->chunks.size()) return {};
  ChunkHint hint{previous_->chunks[cursor_], previous_->BaseOf(cursor_)};
  ++cursor_;
  return hint;
}

void StreamWriter::Emit(std::string&& chunk) {
  ChunkHint hint;
  if (row_aligned_) {
    std::string anchor = AnchorOf(repo_, chunk);
    hint = HintFor(anchor);
    ref_.anchors.push_back(std::move(anchor));
  }
  ref_.chunks.push_back(uploader_.Add(std::move(chunk), hint));
}

void StreamWriter::Write(std::string_view data) {
  digest_.Update(data);
  ref_.bytes += static_cast<int64_t>(data.size());
  rows_ += std::count(data.begin(), data.end(), '\n');
  chunker_.Feed(data, [this](std::string&& chunk) { Emit(std::move(chunk)); });
}

format::StreamRef StreamWriter::Finish() {
  chunker_.Finish([this](std::string&& chunk) { Emit(std::move(chunk)); });
  ref_.sha256 = digest_.FinishHex();
  return ref_;
}

}  // namespace dhanbak::stream
