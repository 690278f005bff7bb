// Sealed objects (src/format/sealed_object.hpp): what a restore trusts. Every way stored bytes
// can go wrong — a flipped bit anywhere, an object moved to another name, a truncated upload,
// the wrong kind, the wrong key — must end in Error(kCorruption) naming the object, never in
// wrong plaintext or a crash.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "format/sealed_object.hpp"
#include "stream/zstd_codec.hpp"

namespace sealed_object_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::format::kSealedHeaderSize;
using dhanbak::format::ObjectKind;
using dhanbak::format::OpenObject;
using dhanbak::format::SealObject;
using dhanbak::format::SealObjectInto;
using dhanbak::format::SealedBound;
namespace crypto = dhanbak::crypto;

namespace {

const std::string kName = "chunks/ab/ab12cd34";

// The error an OpenObject call throws; fails the test if it throws something else or nothing.
Error OpenError(std::string_view key, ObjectKind kind, std::string_view name, std::string_view sealed) {
  try {
    std::string plaintext = OpenObject(key, kind, name, sealed);
    FAIL("OpenObject accepted a bad object and returned " << plaintext.size() << " bytes");
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorCode::kInternal, "unreachable");
}

void CheckCorrupt(std::string_view key, ObjectKind kind, std::string_view name, std::string_view sealed) {
  Error e = OpenError(key, kind, name, sealed);
  CHECK(e.code() == ErrorCode::kCorruption);
  CHECK_MESSAGE(std::string(e.what()).find(std::string(name)) != std::string::npos,
                "message does not name the object: " << e.what());
}

std::string Payload(size_t n) {
  std::mt19937 rng(7);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>("abc\t\n0123"[rng() % 9]);
  return s;
}

}  // namespace

TEST_CASE("sealed objects round-trip, compressed and uncompressed") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  for (bool compress : {true, false}) {
    CAPTURE(compress);
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{300000}}) {
      CAPTURE(n);
      std::string payload = Payload(n);
      std::string sealed = SealObject(key, ObjectKind::kChunk, kName, payload, compress);
      CHECK(sealed.substr(0, 4) == "DHBK");
      CHECK(sealed[4] == 1);
      CHECK(static_cast<uint8_t>(sealed[5]) == static_cast<uint8_t>(ObjectKind::kChunk));
      CHECK(sealed[6] == (compress ? 1 : 0));
      if (!compress) CHECK(sealed.size() == kSealedHeaderSize + n + crypto::kTagSize);
      CHECK(OpenObject(key, ObjectKind::kChunk, kName, sealed) == payload);
    }
  }
  // Compressible payloads actually shrink.
  std::string zeros(1 << 20, '\0');
  CHECK(SealObject(key, ObjectKind::kChunk, kName, zeros, true).size() < 10000);
}

TEST_CASE("an object sealed into a caller's buffer opens like one SealObject returns") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  std::mt19937 rng(5);
  for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{300000}}) {
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i % 7 == 0 ? rng() & 0xff : 'a' + i % 5);
    std::string buffer(SealedBound(size), '\x55');  // a reused buffer holds earlier bytes
    const size_t n = SealObjectInto(buffer.data(), key, ObjectKind::kChunk, "chunks/ab/abcd", payload);
    CHECK(n <= buffer.size());
    const std::string sealed = buffer.substr(0, n);
    CHECK(OpenObject(key, ObjectKind::kChunk, "chunks/ab/abcd", sealed) == payload);
    CHECK(sealed[6] == 1);  // compression: zstd, as SealObject writes it
    CHECK_THROWS_AS(OpenObject(key, ObjectKind::kChunk, "chunks/ab/abce", sealed), Error);
  }
}

TEST_CASE("sealed objects use a fresh nonce each time and do not contain the plaintext") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  const std::string payload = "2024-01-15\tprod-dhanman-sales\tsecret customer name\n";
  std::string a = SealObject(key, ObjectKind::kChunk, kName, payload, false);
  std::string b = SealObject(key, ObjectKind::kChunk, kName, payload, false);
  CHECK(a != b);
  CHECK(a.substr(8, crypto::kNonceSize) != b.substr(8, crypto::kNonceSize));
  CHECK(a.find("secret customer name") == std::string::npos);
}

TEST_CASE("a flipped bit anywhere in a sealed object is detected") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  for (bool compress : {true, false}) {
    CAPTURE(compress);
    const std::string sealed = SealObject(key, ObjectKind::kManifest, "manifests/x", Payload(64), compress);
    // Every byte: header (magic, version, kind, compression, reserved, nonce), ciphertext, tag.
    for (size_t i = 0; i < sealed.size(); ++i) {
      for (int bit : {0, 7}) {
        CAPTURE(i);
        CAPTURE(bit);
        std::string bad = sealed;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        CheckCorrupt(key, ObjectKind::kManifest, "manifests/x", bad);
      }
    }
  }
}

TEST_CASE("an object opened under another name is rejected") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  const std::string sealed = SealObject(key, ObjectKind::kChunk, "chunks/aa/aa01", "row\n");
  CheckCorrupt(key, ObjectKind::kChunk, "chunks/bb/bb02", sealed);
  CheckCorrupt(key, ObjectKind::kChunk, "chunks/aa/aa01 ", sealed);
  CheckCorrupt(key, ObjectKind::kChunk, "chunks/aa/aa0", sealed);
  CheckCorrupt(key, ObjectKind::kChunk, "", sealed);
  // Manifests cannot be replayed under another backup id either.
  const std::string manifest = SealObject(key, ObjectKind::kManifest, "manifests/20240115T020000Z-aaaa", "{}");
  CheckCorrupt(key, ObjectKind::kManifest, "manifests/20240116T020000Z-bbbb", manifest);
  CHECK(OpenObject(key, ObjectKind::kManifest, "manifests/20240115T020000Z-aaaa", manifest) == "{}");
}

TEST_CASE("a truncated object is rejected at every length") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  const std::string sealed = SealObject(key, ObjectKind::kChunk, kName, Payload(200));
  for (size_t n = 0; n < sealed.size(); ++n) {
    CAPTURE(n);
    CheckCorrupt(key, ObjectKind::kChunk, kName, std::string_view(sealed).substr(0, n));
  }
  // Extra bytes appended are as bad as missing ones.
  CheckCorrupt(key, ObjectKind::kChunk, kName, sealed + "x");
}

TEST_CASE("an object of another kind is rejected") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  const std::string chunk = SealObject(key, ObjectKind::kChunk, kName, "data\n");
  CheckCorrupt(key, ObjectKind::kManifest, kName, chunk);
  CheckCorrupt(key, ObjectKind::kConfig, kName, chunk);
  // Rewriting the kind byte to match does not help: the header is authenticated.
  std::string relabelled = chunk;
  relabelled[5] = static_cast<char>(ObjectKind::kManifest);
  CheckCorrupt(key, ObjectKind::kManifest, kName, relabelled);
}

TEST_CASE("an object sealed under another key is rejected") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  const std::string other = crypto::RandomBytes(crypto::kKeySize);
  const std::string sealed = SealObject(key, ObjectKind::kConfig, "config", "{\"format\":1}");
  CheckCorrupt(other, ObjectKind::kConfig, "config", sealed);
}

TEST_CASE("an authentic object whose compressed payload is not zstd is corruption, not a crash") {
  // Forge what a buggy writer could produce under the right key: header says zstd, payload isn't.
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  std::string header(kSealedHeaderSize, '\0');
  header.replace(0, 4, "DHBK");
  header[4] = 1;
  header[5] = static_cast<char>(ObjectKind::kChunk);
  header[6] = 1;
  header.replace(8, crypto::kNonceSize, crypto::RandomBytes(crypto::kNonceSize));
  std::string aad = header + kName;
  std::string forged =
      header + crypto::AesGcmSeal(key, header.substr(8, crypto::kNonceSize), aad, "definitely not a zstd frame");
  CheckCorrupt(key, ObjectKind::kChunk, kName, forged);
  // The same forgery with a real zstd frame opens: the forging itself is right.
  std::string good = header + crypto::AesGcmSeal(key, header.substr(8, crypto::kNonceSize), aad,
                                                 dhanbak::stream::ZstdCompress("row\n"));
  CHECK(OpenObject(key, ObjectKind::kChunk, kName, good) == "row\n");
}

TEST_CASE("GCM primitives: wrong nonce, AAD or tag fail with kCorruption") {
  const std::string key = crypto::RandomBytes(crypto::kKeySize);
  const std::string nonce = crypto::RandomBytes(crypto::kNonceSize);
  std::string sealed = crypto::AesGcmSeal(key, nonce, "aad", "plaintext");
  CHECK(sealed.size() == 9 + crypto::kTagSize);
  CHECK(crypto::AesGcmOpen(key, nonce, "aad", sealed) == "plaintext");
  auto code = [&](std::string_view n, std::string_view aad, std::string_view s) {
    try {
      crypto::AesGcmOpen(key, n, aad, s);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  CHECK(code(crypto::RandomBytes(crypto::kNonceSize), "aad", sealed) == ErrorCode::kCorruption);
  CHECK(code(nonce, "aae", sealed) == ErrorCode::kCorruption);
  std::string bad_tag = sealed;
  bad_tag.back() = static_cast<char>(bad_tag.back() ^ 1);
  CHECK(code(nonce, "aad", bad_tag) == ErrorCode::kCorruption);
}

}  // namespace sealed_object_test
