// StreamWriter — one logical stream (a table's COPY text, the schema archive, the globals
// script) cut into chunks and handed to the ChunkUploader, while its SHA-256, byte and row
// counts are computed on the way. Finish() returns the StreamRef stored in the manifest.
#pragma once

#include <string_view>

#include "format/crypto.hpp"
#include "dhanbak/format/manifest.hpp"
#include "stream/chunk_uploader.hpp"
#include "stream/chunker.hpp"

namespace dhanbak::stream {

class StreamWriter {
 public:
  StreamWriter(ChunkUploader& uploader, const ChunkerParams& params, bool row_aligned);
  void Write(std::string_view data);
  format::StreamRef Finish();
  int64_t rows() const { return rows_; }  // '\n' count: one per COPY text row

 private:
  ChunkUploader& uploader_;
  Chunker chunker_;
  crypto::Digest digest_;
  format::StreamRef ref_;
  int64_t rows_ = 0;
};

}  // namespace dhanbak::stream
