// The content-defined chunker (src/stream/chunker.hpp): chunks hold whole rows, boundaries are
// a function of content only (not of how the bytes were fed), sizes stay within bounds, and an
// edit near the start of a table leaves the rest of its chunks unchanged — which is what makes
// unchanged and appended-to tables nearly free the next night.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dhanbak/error.hpp"
#include "stream/chunker.hpp"

namespace chunker_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::stream::Chunker;
using dhanbak::stream::ChunkerParams;

namespace {

// Small parameters so that a few hundred KiB give hundreds of chunks: min 256 B, ~1 KiB mean
// beyond the minimum, max 4 KiB.
ChunkerParams SmallParams(uint64_t seed = 42) {
  ChunkerParams p;
  p.min_size = 256;
  p.avg_bits = 10;
  p.max_size = 4096;
  p.seed = seed;
  return p;
}

// Rows shaped like COPY text: tab-separated fields of varying length, each ending in '\n'.
// A few rows are longer than max_size so forced cuts happen too.
std::string CopyLikeRows(size_t rows, uint32_t seed, bool with_long_rows = false) {
  std::mt19937 rng(seed);
  std::string out;
  for (size_t i = 0; i < rows; ++i) {
    out += std::to_string(i) + '\t';
    size_t len = 10 + rng() % 150;
    if (with_long_rows && i % 997 == 500) len = 9000 + rng() % 3000;
    for (size_t j = 0; j < len; ++j) out += static_cast<char>('a' + rng() % 26);
    out += "\t\\N\t2024-01-15 10:00:00+00\n";
  }
  return out;
}

std::string RandomBinary(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::vector<std::string> ChunkWithSplits(const ChunkerParams& params, bool row_aligned, const std::string& input,
                                         const std::vector<size_t>& piece_sizes) {
  Chunker chunker(params, row_aligned);
  std::vector<std::string> chunks;
  auto emit = [&](std::string&& c) { chunks.push_back(std::move(c)); };
  size_t pos = 0, k = 0;
  while (pos < input.size()) {
    size_t n = std::min(piece_sizes[k++ % piece_sizes.size()], input.size() - pos);
    chunker.Feed(std::string_view(input).substr(pos, n), emit);
    pos += n;
  }
  chunker.Finish(emit);
  return chunks;
}

std::vector<std::string> ChunkAll(const ChunkerParams& params, bool row_aligned, const std::string& input) {
  return ChunkWithSplits(params, row_aligned, input, {input.size() == 0 ? 1 : input.size()});
}

std::string Concat(const std::vector<std::string>& chunks) {
  std::string out;
  for (const auto& c : chunks) out += c;
  return out;
}

}  // namespace

TEST_CASE("chunker: row-aligned chunks end at row boundaries and reassemble the input") {
  const ChunkerParams p = SmallParams();
  const std::string input = CopyLikeRows(4000, 1);
  auto chunks = ChunkAll(p, true, input);
  REQUIRE(chunks.size() > 50);  // otherwise the checks below prove little
  CHECK(Concat(chunks) == input);
  for (size_t i = 0; i < chunks.size(); ++i) {
    CAPTURE(i);
    CAPTURE(chunks[i].size());
    // Rows here are far shorter than max_size, so no cut may ever split one.
    CHECK(chunks[i].back() == '\n');
  }
}

TEST_CASE("chunker: sizes stay within min and max, except the last chunk") {
  const ChunkerParams p = SmallParams();
  for (bool row_aligned : {true, false}) {
    CAPTURE(row_aligned);
    const std::string input = row_aligned ? CopyLikeRows(6000, 2, true) : RandomBinary(600000, 2);
    auto chunks = ChunkAll(p, row_aligned, input);
    REQUIRE(chunks.size() > 50);
    CHECK(Concat(chunks) == input);
    for (size_t i = 0; i < chunks.size(); ++i) {
      CAPTURE(i);
      CHECK(chunks[i].size() <= p.max_size);
      if (i + 1 < chunks.size()) CHECK(chunks[i].size() >= p.min_size);
    }
    // Boundaries are content-defined, not a fixed stride: most chunks are well below max.
    size_t at_max = std::count_if(chunks.begin(), chunks.end(), [&](const auto& c) { return c.size() == p.max_size; });
    CHECK(at_max < chunks.size() / 4);
  }
}

TEST_CASE("chunker: in row-aligned mode only forced cuts (at max_size) may split a row") {
  const ChunkerParams p = SmallParams();
  const std::string input = CopyLikeRows(6000, 3, true);
  auto chunks = ChunkAll(p, true, input);
  CHECK(Concat(chunks) == input);
  size_t forced = 0;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    if (chunks[i].back() != '\n') {
      CAPTURE(i);
      CHECK(chunks[i].size() == p.max_size);
      ++forced;
    }
  }
  CHECK(forced > 0);  // the long rows must have been cut somewhere
  CHECK(chunks.back().back() == '\n');
}

TEST_CASE("chunker: a single row longer than max_size is cut at max_size") {
  const ChunkerParams p = SmallParams();
  const std::string long_row = std::string(3 * p.max_size + 123, 'x') + "\n";
  const std::string input = "1\tshort\n" + long_row + "2\tafter\n";
  auto chunks = ChunkAll(p, true, input);
  CHECK(Concat(chunks) == input);
  REQUIRE(chunks.size() >= 4);
  // The first three chunks are exactly max_size (the long row, sliced), the rest is the tail.
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(chunks[i].size() == p.max_size);
  }
  for (const auto& c : chunks) CHECK(c.size() <= p.max_size);
}

TEST_CASE("chunker: at max_size a chunk is cut after its last complete row, carrying the partial row over") {
  // Rows of 300 bytes: more than min_size per row, so no row would be split unless forced; use
  // a mask that (practically) never fires so only max_size drives the cuts.
  ChunkerParams p = SmallParams();
  p.avg_bits = 40;
  std::string row(299, 'r');
  row += '\n';
  std::string input;
  for (int i = 0; i < 100; ++i) input += row;
  auto chunks = ChunkAll(p, true, input);
  CHECK(Concat(chunks) == input);
  REQUIRE(chunks.size() > 2);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    CAPTURE(i);
    CHECK(chunks[i].size() == (p.max_size / 300) * 300);  // 13 whole rows
    CHECK(chunks[i].back() == '\n');
  }
}

TEST_CASE("chunker: boundaries do not depend on how the stream is split into Feed calls") {
  const ChunkerParams p = SmallParams();
  for (bool row_aligned : {true, false}) {
    CAPTURE(row_aligned);
    const std::string input = row_aligned ? CopyLikeRows(3000, 4, true) : RandomBinary(300000, 4);
    const auto whole = ChunkAll(p, row_aligned, input);
    REQUIRE(whole.size() > 20);
    CHECK(ChunkWithSplits(p, row_aligned, input, {1}) == whole);
    CHECK(ChunkWithSplits(p, row_aligned, input, {p.max_size}) == whole);
    CHECK(ChunkWithSplits(p, row_aligned, input, {p.max_size + 1, 7, p.min_size - 1}) == whole);
    std::mt19937 rng(99);
    std::vector<size_t> random_sizes;
    for (int i = 0; i < 200; ++i) random_sizes.push_back(1 + rng() % 10000);
    CHECK(ChunkWithSplits(p, row_aligned, input, random_sizes) == whole);
  }
}

TEST_CASE("chunker: an insertion near the start changes only the first few chunks") {
  const ChunkerParams p = SmallParams();
  for (bool row_aligned : {true, false}) {
    CAPTURE(row_aligned);
    const std::string input = row_aligned ? CopyLikeRows(8000, 5) : RandomBinary(800000, 5);
    std::string edited = input;
    // A new row (or a few bytes) near the start, e.g. an UPDATE that moved a row forward.
    size_t at = row_aligned ? input.find('\n', 1000) + 1 : 1000;
    edited.insert(at, row_aligned ? std::string("0\tinserted row\t\\N\t2024-01-15 11:00:00+00\n")
                                  : std::string("inserted bytes"));
    auto before = ChunkAll(p, row_aligned, input);
    auto after = ChunkAll(p, row_aligned, edited);
    REQUIRE(before.size() > 100);
    std::set<std::string> old_set(before.begin(), before.end());
    size_t new_chunks = 0;
    for (const auto& c : after) new_chunks += old_set.count(c) == 0;
    CAPTURE(new_chunks);
    CHECK(new_chunks >= 1);
    CHECK(new_chunks <= 4);
    // After resynchronising, the tails are identical chunk for chunk.
    size_t tail = before.size() - 5;
    REQUIRE(after.size() > tail);
    CHECK(std::equal(before.end() - static_cast<long>(tail), before.end(), after.end() - static_cast<long>(tail)));
  }
}

TEST_CASE("chunker: the seed changes the boundaries (chunk sizes do not fingerprint content)") {
  const std::string input = RandomBinary(300000, 6);
  auto a = ChunkAll(SmallParams(1), false, input);
  auto b = ChunkAll(SmallParams(2), false, input);
  CHECK(Concat(a) == input);
  CHECK(Concat(b) == input);
  CHECK(a != b);
  CHECK(ChunkAll(SmallParams(1), false, input) == a);  // same seed, same boundaries
}

TEST_CASE("chunker: binary mode cuts without regard to newlines") {
  const ChunkerParams p = SmallParams();
  // All newlines: in row mode every cut lands right after a '\n' anyway, so use bytes with none.
  std::string input = RandomBinary(200000, 7);
  std::replace(input.begin(), input.end(), '\n', 'n');
  auto binary = ChunkAll(p, false, input);
  CHECK(Concat(binary) == input);
  REQUIRE(binary.size() > 20);
  size_t at_max = std::count_if(binary.begin(), binary.end(), [&](const auto& c) { return c.size() == p.max_size; });
  CHECK(at_max < binary.size() / 4);
  // Row mode on the same newline-free input can only make forced, max_size cuts.
  auto rows = ChunkAll(p, true, input);
  CHECK(Concat(rows) == input);
  for (size_t i = 0; i + 1 < rows.size(); ++i) CHECK(rows[i].size() == p.max_size);
}

TEST_CASE("chunker: empty input gives no chunks; small input gives one") {
  const ChunkerParams p = SmallParams();
  CHECK(ChunkAll(p, true, "").empty());
  auto one = ChunkAll(p, true, "1\ta\n2\tb\n");
  REQUIRE(one.size() == 1);
  CHECK(one[0] == "1\ta\n2\tb\n");
  auto partial = ChunkAll(p, true, "1\tno newline at the end");
  REQUIRE(partial.size() == 1);
  CHECK(partial[0] == "1\tno newline at the end");
}

TEST_CASE("chunker: invalid parameters are refused") {
  auto code = [](ChunkerParams p) {
    try {
      Chunker c(p, true);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  ChunkerParams p = SmallParams();
  p.min_size = 0;
  CHECK(code(p) == ErrorCode::kInvalidArgument);
  p = SmallParams();
  p.min_size = p.max_size + 1;
  CHECK(code(p) == ErrorCode::kInvalidArgument);
  p = SmallParams();
  p.avg_bits = 3;
  CHECK(code(p) == ErrorCode::kInvalidArgument);
  p = SmallParams();
  p.avg_bits = 41;
  CHECK(code(p) == ErrorCode::kInvalidArgument);
  CHECK(code(ChunkerParams{}) == ErrorCode::kInternal);  // the defaults are valid
}

}  // namespace chunker_test
