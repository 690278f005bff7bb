// StreamWriter — one logical stream (a table's COPY text, the schema archive, the globals
// script) cut into chunks and handed to the ChunkUploader, while its SHA-256, byte and row
// counts are computed on the way. Finish() returns the StreamRef stored in the manifest.
#pragma once

#include <string_view>
#include <unordered_map>

#include "format/crypto.hpp"
#include "dhanbak/format/manifest.hpp"
#include "stream/chunk_uploader.hpp"
#include "stream/chunker.hpp"
#include "format/repository.hpp"

namespace dhanbak::stream {

class StreamWriter {
 public:
  // `previous`: the same table's stream in the previous backup, whose chunks new chunks may be
  // stored as deltas against (row-aligned streams only; it must outlive the writer).
  StreamWriter(ChunkUploader& uploader, const ChunkerParams& params, bool row_aligned,
               const format::StreamRef* previous = nullptr);
  void Write(std::string_view data);
  // The stream's ref; its `bases` are known only once the uploader is flushed (RecordBases).
  format::StreamRef Finish();
  int64_t rows() const { return rows_; }  // '\n' count: one per COPY text row

 private:
  void Emit(std::string&& chunk);
  ChunkHint HintFor(const std::string& anchor);

  ChunkUploader& uploader_;
  const format::Repository& repo_;
  bool row_aligned_;
  const format::StreamRef* previous_;
  std::unordered_map<std::string, size_t> previous_by_anchor_;
  size_t cursor_ = 0;  // the previous stream's chunk that the next new chunk most likely replaces
  Chunker chunker_;
  crypto::Digest digest_;
  format::StreamRef ref_;
  int64_t rows_ = 0;
};

}  // namespace dhanbak::stream
