// The chunk buffer pool (src/stream/buffer_pool.hpp): buffers given back are handed out again with
// their capacity (their memory), the pool keeps no more than its bound, it is safe to share
// between the chunking and uploading threads, and a chunker drawing its buffers from it cuts
// exactly the chunks it cuts without one (chunk ids, and so deduplication, must not change), and an
// idle buffer keeps no more pages resident than it is told.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "stream/buffer_pool.hpp"
#include "stream/chunker.hpp"

namespace buffer_pool_test {  // this file's names, apart from its unity batch's

using dhanbak::stream::BufferPool;
using dhanbak::stream::Chunker;
using dhanbak::stream::ChunkerParams;

TEST_CASE("buffer pool: a new buffer is empty and reserved at the given capacity") {
  BufferPool pool(2, 4096, 4096);
  std::string b = pool.Take();
  CHECK(b.empty());
  CHECK(b.capacity() >= 4096);
}

TEST_CASE("buffer pool: a buffer given back is handed out again, emptied, with its memory") {
  BufferPool pool(2, 16, 1 << 20);
  std::string b = pool.Take();
  b.assign(100000, 'x');
  const char* memory = b.data();
  const size_t capacity = b.capacity();
  pool.Give(std::move(b));
  CHECK(pool.pooled() == 1);
  std::string again = pool.Take();
  CHECK(again.empty());
  CHECK(again.data() == memory);
  CHECK(again.capacity() == capacity);
  CHECK(pool.pooled() == 0);
}

// How many of the pages wholly inside [from, to) of `s`'s memory are resident (mincore); with
// `whole`, how many pages lie wholly inside it.
size_t ResidentPages(const std::string& s, size_t from, size_t to, bool whole = false) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<uintptr_t>(s.data());
  const uintptr_t begin = (base + from + page - 1) / page * page, end = (base + to) / page * page;
  if (end <= begin) return 0;
  std::vector<unsigned char> vec((end - begin) / page);
  if (whole) return vec.size();
  REQUIRE(mincore(reinterpret_cast<void*>(begin), end - begin, vec.data()) == 0);
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

TEST_CASE("buffer pool: the idle buffers share a budget of resident pages, each keeping at least a typical chunk") {
  CHECK(BufferPool(2, 8 << 20, 2 << 20).keep_resident() == BufferPool::kIdleResidentBytes / 2);
  CHECK(BufferPool(12, 8 << 20, 2 << 20).keep_resident() == std::max<size_t>(2 << 20, BufferPool::kIdleResidentBytes / 12));
  CHECK(BufferPool(64, 8 << 20, 2 << 20).keep_resident() == 2 << 20);
  CHECK(BufferPool(0, 0, 0).keep_resident() == BufferPool::kIdleResidentBytes);
}

TEST_CASE("buffer pool: a buffer given back keeps only keep_resident bytes of pages; reused, it works as new") {
  constexpr size_t kReserve = 8 << 20, kKeep = 1 << 20, kUsed = 6 << 20;
  BufferPool pool(BufferPool::kIdleResidentBytes / kKeep, kReserve, kKeep);
  REQUIRE(pool.keep_resident() == kKeep);
  std::string b = pool.Take();
  b.assign(kUsed, 'x');
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  REQUIRE(ResidentPages(b, kKeep + page, kUsed - page) > 0);  // written: resident
  const char* memory = b.data();
  pool.Give(std::move(b));
  std::string again = pool.Take();
  REQUIRE(again.data() == memory);
  CHECK(ResidentPages(again, kKeep + page, kUsed - page) == 0);
  CHECK(ResidentPages(again, 0, kKeep) == ResidentPages(again, 0, kKeep, true));  // the first MiB stays: no fault for a typical chunk
  // The released pages come back (as zeros) when written: the buffer holds what it is given.
  again.assign(kUsed, 'y');
  CHECK(again.find_first_not_of('y') == std::string::npos);
  CHECK(ResidentPages(again, kKeep + page, kUsed - page) > 0);
  // A chunk no larger than what is kept releases nothing.
  again.assign(kKeep / 2, 'z');
  pool.Give(std::move(again));
  std::string small = pool.Take();
  CHECK(ResidentPages(small, 0, kKeep / 2) == ResidentPages(small, 0, kKeep / 2, true));
}

TEST_CASE("buffer pool: no more than max_pooled buffers are kept") {
  BufferPool pool(3, 64, 64);
  std::vector<std::string> out;
  for (int i = 0; i < 10; ++i) out.push_back(pool.Take());
  for (auto& b : out) pool.Give(std::move(b));
  CHECK(pool.pooled() == 3);
  CHECK(pool.max_pooled() == 3);
}

TEST_CASE("buffer pool: shared by threads taking and giving back, it stays bounded and loses nothing") {
  BufferPool pool(4, 1024, 1024);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string b = pool.Take();
        REQUIRE(b.empty());
        b.assign(static_cast<size_t>(100 + (i * 7 + t) % 3000), static_cast<char>('a' + t));
        // Every byte is this thread's: no buffer is handed to two threads at once.
        REQUIRE(b.find_first_not_of(static_cast<char>('a' + t)) == std::string::npos);
        pool.Give(std::move(b));
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(pool.pooled() >= 1);
  CHECK(pool.pooled() <= 4);
}

TEST_CASE("buffer pool: a chunker drawing from it cuts the same chunks, and reuses the buffers given back") {
  ChunkerParams params;
  params.min_size = 256;
  params.avg_bits = 10;
  params.max_size = 4096;
  params.seed = 7;
  std::mt19937 rng(3);
  std::string input;
  for (int i = 0; i < 20000; ++i) {
    input += std::to_string(i) + '\t';
    const size_t len = (i % 991 == 17) ? 6000 : 10 + rng() % 150;  // a few rows longer than max_size
    for (size_t j = 0; j < len; ++j) input += static_cast<char>('a' + rng() % 26);
    input += '\n';
  }
  auto chunk = [&](BufferPool* pool) {
    std::vector<std::string> chunks;
    Chunker chunker(params, true, pool);
    auto emit = [&](std::string&& c) {
      chunks.push_back(c);
      if (pool) pool->Give(std::move(c));  // as the uploader does once the chunk is stored
    };
    for (size_t pos = 0; pos < input.size(); pos += 1000) chunker.Feed(std::string_view(input).substr(pos, 1000), emit);
    chunker.Finish(emit);
    return chunks;
  };
  BufferPool pool(4, params.max_size, params.typical_size());
  const auto with_pool = chunk(&pool);
  CHECK(with_pool == chunk(nullptr));
  CHECK(with_pool.size() > 100);
  // The chunker's buffer and the chunk just given back: a couple of buffers served every chunk.
  CHECK(pool.pooled() >= 1);
  CHECK(pool.pooled() <= 2);
}

}  // namespace buffer_pool_test
