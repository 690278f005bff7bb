#include "stream/stream_writer.hpp"

#include <algorithm>

namespace dhanbak::stream {

StreamWriter::StreamWriter(ChunkUploader& uploader, const ChunkerParams& params, bool row_aligned)
    : uploader_(uploader), chunker_(params, row_aligned) {}

void StreamWriter::Write(std::string_view data) {
  digest_.Update(data);
  ref_.bytes += static_cast<int64_t>(data.size());
  rows_ += std::count(data.begin(), data.end(), '\n');
  chunker_.Feed(data, [this](std::string&& chunk) { ref_.chunks.push_back(uploader_.Add(std::move(chunk))); });
}

format::StreamRef StreamWriter::Finish() {
  chunker_.Finish([this](std::string&& chunk) { ref_.chunks.push_back(uploader_.Add(std::move(chunk))); });
  ref_.sha256 = digest_.FinishHex();
  return ref_;
}

}  // namespace dhanbak::stream
