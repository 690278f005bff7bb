// One-shot zstd compression of bounded objects (chunks, manifests). Objects are at most a few
// tens of MiB, so whole-buffer calls are simplest; decompression streams so that a forged
// frame header cannot make us allocate more than `max_output`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dhanbak::stream {

constexpr int kDefaultZstdLevel = 2;

std::string ZstdCompress(std::string_view data, int level = kDefaultZstdLevel);
// The same frame written to `out`, which holds at least ZstdCompressBound(data.size()) bytes;
// returns its length. Only the pages written are touched (no zero-filled worst case).
size_t ZstdCompressInto(std::string_view data, char* out, size_t capacity, int level = kDefaultZstdLevel);
size_t ZstdCompressBound(size_t size);
// Throws Error(kCorruption) on a malformed frame or output larger than max_output.
// `into`: a buffer whose capacity the output reuses (a pooled one, stream/buffer_pool.hpp); its
// content is discarded.
std::string ZstdDecompress(std::string_view frame, size_t max_output, std::string into = {});

// "Patch-from" compression: `data` compressed with `reference` as a raw-content prefix (zstd
// --patch-from), so bytes it shares with the reference cost a few bytes of match each. The
// frame decodes only with the same reference. Both are at most a few MiB (one chunk each).
std::string ZstdCompressWithReference(std::string_view data, std::string_view reference,
                                      int level = kDefaultZstdLevel);
// Throws Error(kCorruption) on a malformed frame, a wrong reference that the frame detects, or
// output larger than max_output.
std::string ZstdDecompressWithReference(std::string_view frame, std::string_view reference, size_t max_output,
                                        std::string into = {});

}  // namespace dhanbak::stream
