// Thin, exception-safe wrappers over OpenSSL 3 for the primitives of the repository format:
// SHA-256, HMAC-SHA-256, HKDF-SHA-256, scrypt and AES-256-GCM. Errors throw Error(kCrypto);
// a failed GCM authentication throws Error(kCorruption).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace dhanbak::crypto {

constexpr size_t kKeySize = 32;    // AES-256 and HMAC keys
constexpr size_t kNonceSize = 12;  // GCM nonce (96 bits)
constexpr size_t kTagSize = 16;    // GCM tag (128 bits)

std::string RandomBytes(size_t n);

// Incremental SHA-256 (also usable for SHA-1 with Sha256::Algorithm::kSha1).
class Digest {
 public:
  enum class Algorithm { kSha256, kSha1 };
  explicit Digest(Algorithm algorithm = Algorithm::kSha256);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void Update(std::string_view data);
  std::string FinishHex();  // lowercase hex; the object must not be updated afterwards

 private:
  EVP_MD_CTX* ctx_;
};

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
std::string HkdfSha256(std::string_view key, std::string_view info, size_t length);
std::string Scrypt(std::string_view passphrase, std::string_view salt, uint64_t n, uint64_t r,
                   uint64_t p, size_t length);

// Returns prefix || ciphertext || tag (a prefix, such as an object's header, costs no extra copy
// of the ciphertext).
std::string AesGcmSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                       std::string_view plaintext, std::string_view prefix = {});
// The same encryption in place: `data` (size bytes) becomes its ciphertext and the tag is written
// to `tag` (kTagSize bytes), so a caller that built the plaintext in its output buffer needs no
// second buffer of the object's size.
void AesGcmSealInPlace(std::string_view key, std::string_view nonce, std::string_view aad, char* data,
                       size_t size, char* tag);
// Takes ciphertext || tag; throws Error(kCorruption) when authentication fails.
std::string AesGcmOpen(std::string_view key, std::string_view nonce, std::string_view aad,
                       std::string_view sealed);

}  // namespace dhanbak::crypto
