// zstd codec (src/stream/zstd_codec.hpp): round trips, and every kind of bad frame — corrupted,
// truncated, trailing garbage, or inflating past the allowed size — is kCorruption.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "dhanbak/error.hpp"
#include "stream/zstd_codec.hpp"

namespace zstd_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::stream::ZstdCompress;
using dhanbak::stream::ZstdDecompress;

namespace {

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string Rows(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += std::to_string(i) + "\tcustomer " + std::to_string(i % 97) + "\t\\N\n";
  s.resize(n);
  return s;
}

ErrorCode CodeOf(std::string_view frame, size_t max_output) {
  try {
    ZstdDecompress(frame, max_output);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace

TEST_CASE("zstd: round trip of empty, small, compressible and random data") {
  for (const std::string& data : {std::string(), std::string("x"), Rows(100000), Random(300000, 1), Rows(5 << 20)}) {
    CAPTURE(data.size());
    std::string frame = ZstdCompress(data);
    CHECK(ZstdDecompress(frame, data.size()) == data);
    CHECK(ZstdDecompress(frame, 1u << 30) == data);
  }
  CHECK(ZstdCompress(Rows(1 << 20)).size() < (1u << 20) / 3);
  CHECK(ZstdDecompress(ZstdCompress(Rows(4096), 19), 4096) == Rows(4096));
}

TEST_CASE("zstd: corrupted frames are kCorruption") {
  const std::string data = Random(50000, 2) + Rows(50000);
  const std::string frame = ZstdCompress(data);
  CHECK(CodeOf("", 100) == ErrorCode::kCorruption);
  CHECK(CodeOf("not a zstd frame at all", 1000) == ErrorCode::kCorruption);
  std::string bad_magic = frame;
  bad_magic[0] = static_cast<char>(bad_magic[0] ^ 0xff);
  CHECK(CodeOf(bad_magic, data.size()) == ErrorCode::kCorruption);
  for (size_t n : {size_t{1}, size_t{4}, size_t{10}, frame.size() / 2, frame.size() - 1}) {
    CAPTURE(n);
    CHECK(CodeOf(std::string_view(frame).substr(0, n), data.size()) == ErrorCode::kCorruption);
  }
  CHECK(CodeOf(frame + "trailing", data.size() + 100) == ErrorCode::kCorruption);
  // Frames carry no checksum, so a flipped byte inside literals may decode to other bytes (the
  // GCM tag one layer up catches those); damage to the block structure must be kCorruption.
  int errors = 0;
  for (size_t i = 20; i < frame.size(); i += frame.size() / 50) {
    std::string bad = frame;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    try {
      ZstdDecompress(bad, data.size() * 2);
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kCorruption);
      ++errors;
    }
  }
  CHECK(errors > 0);
}

TEST_CASE("zstd: max_output is enforced") {
  const std::string zeros(1 << 20, '\0');
  const std::string frame = ZstdCompress(zeros);
  CHECK(frame.size() < 1000);  // a small frame that inflates a lot
  CHECK(ZstdDecompress(frame, zeros.size()) == zeros);
  CHECK(CodeOf(frame, zeros.size() - 1) == ErrorCode::kCorruption);
  CHECK(CodeOf(frame, 1000) == ErrorCode::kCorruption);
  CHECK(CodeOf(frame, 0) == ErrorCode::kCorruption);
  CHECK(ZstdDecompress(ZstdCompress(""), 0).empty());
}

TEST_CASE("zstd: decoding into a used buffer keeps its capacity and none of its old bytes") {
  // The restore decodes every chunk into a pooled buffer that held a longer chunk before.
  const std::string longer = Random(1 << 20, 3), shorter = Rows(300000);
  std::string buffer = ZstdDecompress(ZstdCompress(longer), longer.size());
  REQUIRE(buffer == longer);
  const char* storage = buffer.data();
  std::string out = ZstdDecompress(ZstdCompress(shorter), shorter.size(), std::move(buffer));
  CHECK(out == shorter);
  CHECK(out.data() == storage);  // written where the old pages are: no new block
  // An empty frame into a used buffer is empty; a bad frame into one is still kCorruption.
  CHECK(ZstdDecompress(ZstdCompress(""), 0, std::move(out)).empty());
  std::string frame = ZstdCompress(shorter);
  CHECK_THROWS_AS(ZstdDecompress(std::string_view(frame).substr(0, frame.size() - 1), shorter.size(),
                                 std::string(longer)),
                  Error);
  CHECK_THROWS_AS(ZstdDecompress(frame + "x", shorter.size(), std::string(longer)), Error);
  CHECK_THROWS_AS(ZstdDecompress(frame, shorter.size() - 1, std::string(longer)), Error);
}

TEST_CASE("zstd: compression against a reference stores only the difference") {
  using dhanbak::stream::ZstdCompressWithReference;
  using dhanbak::stream::ZstdDecompressWithReference;
  // Random bytes do not compress on their own, so what the frame saves comes from the reference.
  const std::string reference = Random(3 << 20, 11);
  std::string changed = reference;
  for (size_t at = 1000; at < changed.size(); at += 100000) changed[at] ^= 0x5a;  // ~31 scattered bytes
  changed.erase(2 << 20, 500);  // and a deleted run (a row gone)
  const std::string frame = ZstdCompressWithReference(changed, reference);
  CHECK(frame.size() < changed.size() / 100);
  CHECK(ZstdDecompressWithReference(frame, reference, changed.size()) == changed);
  CHECK(ZstdCompress(changed).size() > changed.size() / 2);

  // Without its reference, or against another one, the frame does not give the data back.
  auto decoded_or_error = [&](const std::string& ref) {
    try {
      return ZstdDecompressWithReference(frame, ref, changed.size());
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kCorruption);
      return std::string();
    }
  };
  CHECK(decoded_or_error(Random(3 << 20, 12)) != changed);
  CHECK(decoded_or_error("") != changed);
  CHECK_THROWS_AS(ZstdDecompress(frame, changed.size()), Error);
  // The output bound holds for reference frames too.
  CHECK_THROWS_AS(ZstdDecompressWithReference(frame, reference, changed.size() - 1), Error);
  // Into a used buffer, as the restore decodes a delta chunk.
  CHECK(ZstdDecompressWithReference(frame, reference, changed.size(), std::string(reference + reference)) == changed);
  // A plain frame after a reference frame on the same thread: no reference lingers.
  CHECK(ZstdDecompress(ZstdCompress("plain"), 100) == "plain");
}
}  // namespace zstd_test
