#include "format/sealed_object.hpp"

#include <algorithm>

#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "stream/zstd_codec.hpp"

namespace dhanbak::format {
namespace {

constexpr char kMagic[4] = {'D', 'H', 'B', 'K'};
constexpr uint8_t kVersion = 1;

[[noreturn]] void Corrupt(std::string_view name, const std::string& why) {
  throw Error(ErrorCode::kCorruption, "object '" + std::string(name) + "' is corrupted: " + why);
}

constexpr uint8_t kNone = 0, kZstd = 1, kZstdAgainstReference = 2;

std::string Header(ObjectKind kind, uint8_t compression) {
  std::string header(kSealedHeaderSize, '\0');
  header.replace(0, 4, kMagic, 4);
  header[4] = static_cast<char>(kVersion);
  header[5] = static_cast<char>(kind);
  header[6] = static_cast<char>(compression);
  header.replace(8, crypto::kNonceSize, crypto::RandomBytes(crypto::kNonceSize));
  return header;
}

// What the tag authenticates besides the ciphertext: the header and the object's name.
std::string Aad(std::string_view header, std::string_view name) {
  std::string aad(header.substr(0, kSealedHeaderSize));
  aad.append(name);
  return aad;
}

std::string_view Nonce(std::string_view header) { return header.substr(8, crypto::kNonceSize); }

std::string Seal(std::string_view key, ObjectKind kind, std::string_view name, uint8_t compression,
                 const std::string& plaintext) {
  std::string header = Header(kind, compression);
  return crypto::AesGcmSeal(key, Nonce(header), Aad(header, name), plaintext, header);
}

}  // namespace

std::string SealObject(std::string_view key, ObjectKind kind, std::string_view name,
                       std::string_view payload, bool compress) {
  return Seal(key, kind, name, compress ? kZstd : kNone,
              compress ? stream::ZstdCompress(payload) : std::string(payload));
}

size_t SealedBound(size_t payload_size) {
  return kSealedHeaderSize + stream::ZstdCompressBound(payload_size) + crypto::kTagSize;
}

size_t SealObjectInto(char* out, std::string_view key, ObjectKind kind, std::string_view name,
                      std::string_view payload) {
  const std::string header = Header(kind, kZstd);
  std::copy(header.begin(), header.end(), out);
  char* body = out + kSealedHeaderSize;
  const size_t n = stream::ZstdCompressInto(payload, body, stream::ZstdCompressBound(payload.size()));
  crypto::AesGcmSealInPlace(key, Nonce(header), Aad(header, name), body, n, body + n);
  return kSealedHeaderSize + n + crypto::kTagSize;
}

std::string SealObjectAgainst(std::string_view key, ObjectKind kind, std::string_view name,
                              std::string_view payload, std::string_view reference) {
  return Seal(key, kind, name, kZstdAgainstReference, stream::ZstdCompressWithReference(payload, reference));
}

std::string OpenObject(std::string_view key, ObjectKind kind, std::string_view name,
                       std::string_view sealed, std::optional<std::string_view> reference, std::string into) {
  if (sealed.size() < kSealedHeaderSize + crypto::kTagSize) Corrupt(name, "truncated");
  if (sealed.substr(0, 4) != std::string_view(kMagic, 4)) Corrupt(name, "bad magic");
  if (static_cast<uint8_t>(sealed[4]) != kVersion) {
    Corrupt(name, "unsupported format version " + std::to_string(static_cast<uint8_t>(sealed[4])));
  }
  if (static_cast<uint8_t>(sealed[5]) != static_cast<uint8_t>(kind)) Corrupt(name, "unexpected object kind");
  uint8_t compression = static_cast<uint8_t>(sealed[6]);
  if (compression > kZstdAgainstReference || sealed[7] != 0) Corrupt(name, "bad header");
  if ((compression == kZstdAgainstReference) != reference.has_value()) {
    Corrupt(name, compression == kZstdAgainstReference ? "a delta where a full object was expected"
                                                       : "a full object where a delta was expected");
  }
  std::string plaintext;
  try {
    plaintext = crypto::AesGcmOpen(key, Nonce(sealed), Aad(sealed, name), sealed.substr(kSealedHeaderSize));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kCorruption) Corrupt(name, "authentication failed");
    throw;
  }
  if (compression == kNone) return plaintext;
  try {
    if (reference) {
      return stream::ZstdDecompressWithReference(plaintext, *reference, kMaxObjectPlaintext, std::move(into));
    }
    return stream::ZstdDecompress(plaintext, kMaxObjectPlaintext, std::move(into));
  } catch (const Error& e) {
    Corrupt(name, e.what());
  }
}

}  // namespace dhanbak::format
