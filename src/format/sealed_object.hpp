// Sealed objects: the on-storage form of every chunk, manifest and the repository config
// (docs/repository-format.md §Sealed objects).
//
//   offset  size  field
//   0       4     magic "DHBK"
//   4       1     format version (1)
//   5       1     object kind (ObjectKind)
//   6       1     compression (0 none, 1 zstd, 2 zstd against a reference: a delta chunk)
//   7       1     reserved, 0
//   8       12    AES-256-GCM nonce, random per object
//   20      n     ciphertext of the (compressed) payload
//   20+n    16    GCM tag
//
// Associated data = the 20 header bytes followed by the object's name, so an object cannot be
// moved to another name (or kind) without failing authentication.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dhanbak::format {

enum class ObjectKind : uint8_t {
  kChunk = 1,
  kManifest = 2,
  kConfig = 3,
  kWal = 4,  // an archived WAL file, or the archive's cluster identity (wal/...)
  kBaseBackup = 5,  // a base backup's manifest (basebackups/...)
};

constexpr size_t kSealedHeaderSize = 20;
constexpr size_t kMaxObjectPlaintext = 1ull << 30;  // 1 GiB: refuse to inflate anything larger

std::string SealObject(std::string_view key, ObjectKind kind, std::string_view name,
                       std::string_view payload, bool compress = true);

// SealObject (compressed) written to `out`, which holds at least SealedBound(payload.size())
// bytes; returns the object's length. The payload is compressed straight into `out` and encrypted
// there, so sealing needs no buffer besides `out`, which the caller can keep from one object to
// the next (the backup's upload threads do).
size_t SealObjectInto(char* out, std::string_view key, ObjectKind kind, std::string_view name,
                      std::string_view payload);
size_t SealedBound(size_t payload_size);

// A delta: the payload compressed with `reference` as zstd's prefix (compression 2). Opening it
// needs the same reference bytes (for a chunk: its base chunk's plaintext).
std::string SealObjectAgainst(std::string_view key, ObjectKind kind, std::string_view name,
                              std::string_view payload, std::string_view reference);

// Throws Error(kCorruption) naming `name` when the object is malformed, of another kind,
// stored under another name, or fails authentication; also when it is a delta and no
// `reference` is given, or a full object and one is. `into`: a buffer whose capacity the
// plaintext reuses (stream/buffer_pool.hpp).
std::string OpenObject(std::string_view key, ObjectKind kind, std::string_view name,
                       std::string_view sealed, std::optional<std::string_view> reference = std::nullopt,
                       std::string into = {});

}  // namespace dhanbak::format
