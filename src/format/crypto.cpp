#include "format/crypto.hpp"

#include <algorithm>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "common/encoding.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::crypto {
namespace {

[[noreturn]] void ThrowSslError(const char* what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw Error(ErrorCode::kCrypto, std::string(what) + ": " + buf);
}

void Check(int ok, const char* what) {
  if (ok != 1) ThrowSslError(what);
}

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  Check(RAND_bytes(U(out), static_cast<int>(n)), "random bytes");
  return out;
}

Digest::Digest(Algorithm algorithm) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) ThrowSslError("digest init");
  const EVP_MD* md = algorithm == Algorithm::kSha1 ? EVP_sha1() : EVP_sha256();
  if (EVP_DigestInit_ex(ctx_, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    ThrowSslError("digest init");
  }
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

void Digest::Update(std::string_view data) {
  Check(EVP_DigestUpdate(ctx_, data.data(), data.size()), "digest update");
}

std::string Digest::FinishHex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(ctx_, out, &len), "digest final");
  return HexEncode(std::string_view(reinterpret_cast<char*>(out), len));
}

std::string Sha256Hex(std::string_view data) {
  Digest d;
  d.Update(data);
  return d.FinishHex();
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), U(data), data.size(), U(out),
           &len) == nullptr) {
    ThrowSslError("hmac");
  }
  out.resize(len);
  return out;
}

std::string HkdfSha256(std::string_view key, std::string_view info, size_t length) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  if (ctx == nullptr) ThrowSslError("hkdf init");
  std::string out(length, '\0');
  size_t out_len = length;
  bool ok = EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_CTX_set1_hkdf_key(ctx, U(key), static_cast<int>(key.size())) == 1 &&
            EVP_PKEY_CTX_add1_hkdf_info(ctx, U(info), static_cast<int>(info.size())) == 1 &&
            EVP_PKEY_derive(ctx, U(out), &out_len) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) ThrowSslError("hkdf");
  return out;
}

std::string Scrypt(std::string_view passphrase, std::string_view salt, uint64_t n, uint64_t r,
                   uint64_t p, size_t length) {
  std::string out(length, '\0');
  // maxmem must cover 128 * N * r bytes plus slack, or OpenSSL refuses the parameters.
  uint64_t maxmem = 128 * n * r * p + (64ull << 20);
  Check(EVP_PBE_scrypt(passphrase.data(), passphrase.size(), U(salt), salt.size(), n, r, p, maxmem,
                       U(out), length),
        "scrypt");
  return out;
}

namespace {

// `c` set up to encrypt with AES-256-GCM under `key` and `nonce`, `aad` already authenticated.
void StartGcmEncrypt(CipherCtx& c, std::string_view key, std::string_view nonce, std::string_view aad) {
  if (c.ctx == nullptr) ThrowSslError("aes-gcm init");
  Check(EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr), "aes-gcm init");
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr),
        "aes-gcm ivlen");
  Check(EVP_EncryptInit_ex(c.ctx, nullptr, nullptr, U(key), U(nonce)), "aes-gcm key");
  int len = 0;
  if (!aad.empty()) Check(EVP_EncryptUpdate(c.ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())), "aes-gcm aad");
}

}  // namespace

std::string AesGcmSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                       std::string_view plaintext, std::string_view prefix) {
  CipherCtx c;
  StartGcmEncrypt(c, key, nonce, aad);
  int len = 0;
  std::string out(prefix.size() + plaintext.size() + kTagSize, '\0');
  std::copy(prefix.begin(), prefix.end(), out.begin());
  int total = static_cast<int>(prefix.size());
  if (!plaintext.empty()) {
    Check(EVP_EncryptUpdate(c.ctx, U(out) + total, &len, U(plaintext), static_cast<int>(plaintext.size())),
          "aes-gcm encrypt");
    total += len;
  }
  Check(EVP_EncryptFinal_ex(c.ctx, U(out) + total, &len), "aes-gcm final");
  total += len;
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, U(out) + total), "aes-gcm tag");
  out.resize(static_cast<size_t>(total) + kTagSize);
  return out;
}

void AesGcmSealInPlace(std::string_view key, std::string_view nonce, std::string_view aad, char* data,
                       size_t size, char* tag) {
  CipherCtx c;
  StartGcmEncrypt(c, key, nonce, aad);
  int len = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(data);
  // GCM is a stream mode: EVP_EncryptUpdate may write its output over its input.
  if (size > 0) Check(EVP_EncryptUpdate(c.ctx, bytes, &len, bytes, static_cast<int>(size)), "aes-gcm encrypt");
  Check(EVP_EncryptFinal_ex(c.ctx, bytes + size, &len), "aes-gcm final");  // GCM writes nothing here
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, tag), "aes-gcm tag");
}

std::string AesGcmOpen(std::string_view key, std::string_view nonce, std::string_view aad,
                       std::string_view sealed) {
  if (sealed.size() < kTagSize) throw Error(ErrorCode::kCorruption, "sealed data is truncated");
  std::string_view ciphertext = sealed.substr(0, sealed.size() - kTagSize);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  CipherCtx c;
  if (c.ctx == nullptr) ThrowSslError("aes-gcm init");
  Check(EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr), "aes-gcm init");
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr),
        "aes-gcm ivlen");
  Check(EVP_DecryptInit_ex(c.ctx, nullptr, nullptr, U(key), U(nonce)), "aes-gcm key");
  int len = 0;
  if (!aad.empty()) Check(EVP_DecryptUpdate(c.ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())), "aes-gcm aad");
  std::string out(ciphertext.size(), '\0');
  int total = 0;
  if (!ciphertext.empty()) {
    Check(EVP_DecryptUpdate(c.ctx, U(out), &len, U(ciphertext), static_cast<int>(ciphertext.size())),
          "aes-gcm decrypt");
    total = len;
  }
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, U(tag)), "aes-gcm tag");
  if (EVP_DecryptFinal_ex(c.ctx, U(out) + total, &len) != 1) {
    ERR_clear_error();
    throw Error(ErrorCode::kCorruption, "authentication failed");
  }
  out.resize(static_cast<size_t>(total + len));
  return out;
}

}  // namespace dhanbak::crypto
