// The chunk pipeline without PostgreSQL: StreamWriter → ChunkUploader → LocalStorage on the
// backup side, ChunkFetcher on the restore side. A stream comes back byte for byte, chunks
// already stored are not stored again, and any damage in storage is Error(kCorruption) naming
// the object.
#include "common/temp_dir.hpp"
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <typeinfo>

#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "format/repository.hpp"
#include "storage/local/local_storage.hpp"
#include "stream/chunk_fetcher.hpp"
#include "stream/chunk_uploader.hpp"
#include "stream/stream_writer.hpp"

namespace chunk_stream_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::format::Repository;
using dhanbak::format::StreamRef;
using dhanbak::storage::LocalStorage;
using dhanbak::stream::ChunkerParams;
using dhanbak::stream::ChunkFetcher;
using dhanbak::stream::ChunkUploader;
using dhanbak::stream::StreamWriter;
namespace fs = std::filesystem;

namespace {

// A private temporary directory removed with its contents.
using ScratchDir = dhanbak::TempDir;

// A repository in a scratch directory, with cheap scrypt parameters.
struct TestRepo {
  ScratchDir dir;
  LocalStorage storage{dir.path()};
  std::unique_ptr<Repository> repo;
  TestRepo() {
    Repository::Init(storage, "pass", {1u << 10, 8, 1});
    repo = Repository::Open(storage, "pass");
  }
  std::string PathOf(const std::string& chunk_id) const { return dir.path() + "/" + Repository::ChunkName(chunk_id); }
};

ChunkerParams SmallParams() {
  ChunkerParams p;
  p.min_size = 1024;
  p.avg_bits = 12;
  p.max_size = 16384;
  p.seed = 5;
  return p;
}

std::string Rows(size_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out;
  for (size_t i = 0; i < rows; ++i) {
    out += std::to_string(i) + "\t";
    for (int j = 0, n = 20 + static_cast<int>(rng() % 80); j < n; ++j) out += static_cast<char>('a' + rng() % 26);
    out += "\n";
  }
  return out;
}

// Writes `data` as one stream in uneven pieces, flushes, and returns its reference.
StreamRef Store(ChunkUploader& uploader, const std::string& data, int64_t* rows = nullptr,
                const StreamRef* previous = nullptr) {
  StreamWriter writer(uploader, SmallParams(), true, previous);
  std::mt19937 rng(1);
  for (size_t pos = 0; pos < data.size();) {
    size_t n = std::min<size_t>(1 + rng() % 5000, data.size() - pos);
    writer.Write(std::string_view(data).substr(pos, n));
    pos += n;
  }
  StreamRef ref = writer.Finish();
  uploader.Flush();
  uploader.RecordBases(ref);
  if (rows) *rows = writer.rows();
  return ref;
}

// What PostgreSQL's COPY shows after UPDATE of every 100th row from `offset`: the old versions
// gone from their places, the new ones (changed) at the end of the table.
std::string UpdateOnePercent(const std::string& data, size_t offset) {
  std::string kept, moved;
  size_t row = 0;
  for (size_t pos = 0; pos < data.size(); ++row) {
    size_t end = data.find('\n', pos) + 1;
    std::string_view line(data.data() + pos, end - pos);
    if (row % 100 == offset) {
      moved += std::string(line.substr(0, line.find('\t'))) + "\tpaid on night " + std::to_string(offset) + "\n";
    } else {
      kept += line;
    }
    pos = end;
  }
  return kept + moved;
}

std::string Fetch(ChunkFetcher& fetcher, const StreamRef& ref) {
  std::string out;
  fetcher.Stream(ref, "table public.t", [&](std::string_view d) { out.append(d); });
  return out;
}

Error FetchError(ChunkFetcher& fetcher, const StreamRef& ref) {
  try {
    Fetch(fetcher, ref);
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("expected dhanbak::Error, got " << std::string(typeid(e).name()) << ": " << std::string(e.what()));
  }
  FAIL("the damaged stream was fetched without an error");
  return Error(ErrorCode::kInternal, "unreachable");
}

void Overwrite(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("chunk stream: a stream is stored in chunks and fetched back byte for byte") {
  TestRepo t;
  ChunkUploader uploader(*t.repo, 3, 4);
  uploader.LoadExisting();
  const std::string data = Rows(5000, 1);
  int64_t rows = 0;
  StreamRef ref = Store(uploader, data, &rows);
  CHECK(ref.bytes == static_cast<int64_t>(data.size()));
  CHECK(ref.sha256 == dhanbak::crypto::Sha256Hex(data));
  CHECK(rows == 5000);
  REQUIRE(ref.chunks.size() > 10);
  CHECK(uploader.new_chunks() == static_cast<int64_t>(ref.chunks.size()));
  for (const auto& id : ref.chunks) CHECK(fs::exists(t.PathOf(id)));
  ChunkFetcher fetcher(*t.repo, 3, 4);
  CHECK(Fetch(fetcher, ref) == data);
  // An empty stream is a valid stream.
  StreamRef empty = Store(uploader, "");
  CHECK(empty.chunks.empty());
  CHECK(empty.bytes == 0);
  CHECK(Fetch(fetcher, empty).empty());
}

TEST_CASE("chunk stream: chunks decoded into reused buffers come back without an earlier chunk's bytes") {
  // The fetcher decodes into pooled buffers: a short chunk lands in a buffer that held a long one.
  TestRepo t;
  ChunkUploader uploader(*t.repo, 2, 4);
  uploader.LoadExisting();
  std::string long_rows;
  for (int i = 0; i < 400; ++i) long_rows += std::to_string(i) + "\t" + std::string(3000 + i, 'a' + i % 26) + "\n";
  const std::string short_rows = Rows(40, 9);
  const StreamRef big = Store(uploader, long_rows), small = Store(uploader, short_rows);
  REQUIRE(big.chunks.size() > 20);
  for (auto [threads, window] : {std::pair<size_t, size_t>{1, 1}, {2, 2}, {3, 4}}) {
    const size_t fetch_threads = threads;  // CAPTURE takes a lambda capture: not a structured binding (clang 14)
    CAPTURE(fetch_threads);
    ChunkFetcher fetcher(*t.repo, threads, window);
    CHECK(Fetch(fetcher, big) == long_rows);
    CHECK(Fetch(fetcher, small) == short_rows);
    CHECK(Fetch(fetcher, big) == long_rows);
  }
}

// A local repository that counts the objects read from it.
struct CountingStorage : LocalStorage {
  using LocalStorage::LocalStorage;
  std::atomic<int> gets{0};
  std::string Get(const std::string& name, std::optional<dhanbak::storage::ByteRange> range) override {
    ++gets;
    return LocalStorage::Get(name, range);
  }
};

TEST_CASE("chunk stream: tables restored at the same time share the read-ahead: no more chunks ahead than threads") {
  ScratchDir dir;
  CountingStorage storage(dir.path());
  Repository::Init(storage, "pass", {1u << 10, 8, 1});
  auto repo = Repository::Open(storage, "pass");
  ChunkUploader uploader(*repo, 2, 4);
  const std::string a = Rows(6000, 21), b = Rows(6000, 22);
  const StreamRef ra = Store(uploader, a), rb = Store(uploader, b);
  REQUIRE(ra.chunks.size() > 30);
  REQUIRE(rb.chunks.size() > 30);
  constexpr size_t kThreads = 4, kWindow = 4;
  ChunkFetcher fetcher(*repo, kThreads, kWindow);
  std::atomic<int> consumed{0}, most_ahead{0};
  const int gets_before = storage.gets.load();
  // Each chunk handed to a table is consumed slowly, as PostgreSQL loads it: the fetcher's threads
  // have all the time they want to read ahead. Chunks read and not yet handed over, in both tables
  // (the reads counted before the hand-overs, so that the other table's progress during the
  // pause is in both counts).
  auto ahead_now = [&] {
    const int gets = storage.gets.load() - gets_before;
    return gets - consumed.load();
  };
  auto consume = [&](const StreamRef& ref, std::string& out) {
    fetcher.Stream(ref, "table", [&](std::string_view d) {
      out.append(d);
      consumed.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      int ahead = ahead_now(), seen = most_ahead.load();
      while (ahead > seen && !most_ahead.compare_exchange_weak(seen, ahead)) {
      }
    });
  };
  std::string got_a, got_b;
  std::thread other([&] { consume(rb, got_b); });
  consume(ra, got_a);
  other.join();
  CHECK(got_a == a);
  CHECK(got_b == b);
  // Alone, each table would keep kWindow chunks ahead (8 in all); sharing, they keep the threads'
  // worth, give or take the chunk each stream is handed as it starts or while its neighbour ends.
  CHECK(most_ahead.load() >= 2);
  CHECK(most_ahead.load() <= static_cast<int>(kThreads) + 2);
  // One table alone reads its whole window ahead (give or take the chunk a busy machine's threads
  // have not started yet when the table's loader looks).
  REQUIRE(ahead_now() == 0);  // both tables read and handed over
  most_ahead = 0;
  std::string alone;
  fetcher.Stream(ra, "table", [&](std::string_view d) {
    alone.append(d);
    consumed.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    most_ahead = std::max(most_ahead.load(), ahead_now());
  });
  CHECK(alone == a);
  CHECK(most_ahead.load() >= static_cast<int>(kWindow) - 1);
  CHECK(most_ahead.load() <= static_cast<int>(kWindow));
}

TEST_CASE("chunk stream: a byte budget smaller than one chunk still stores every chunk, one at a time") {
  TestRepo t;
  ChunkUploader uploader(*t.repo, 3, 4, /*max_in_flight_bytes=*/1);
  const std::string data = Rows(4000, 7);
  StreamRef ref = Store(uploader, data);
  REQUIRE(ref.chunks.size() > 3);
  CHECK(uploader.new_chunks() == static_cast<int64_t>(ref.chunks.size()));
  ChunkFetcher fetcher(*t.repo, 2, 2);
  CHECK(Fetch(fetcher, ref) == data);
}

TEST_CASE("chunk stream: chunks already stored are not stored again, in this run or the next") {
  TestRepo t;
  const std::string data = Rows(5000, 2);
  StreamRef first;
  {
    ChunkUploader uploader(*t.repo, 2, 4);
    uploader.LoadExisting();
    first = Store(uploader, data);
    const int64_t new_after_first = uploader.new_chunks(), bytes_after_first = uploader.stored_bytes();
    StreamRef again = Store(uploader, data);  // the same table twice in one run
    CHECK(again.chunks == first.chunks);
    CHECK(uploader.new_chunks() == new_after_first);
    CHECK(uploader.stored_bytes() == bytes_after_first);
  }
  // Next night: a new uploader learns what is there and stores only the changed tail.
  ChunkUploader next(*t.repo, 2, 4);
  next.LoadExisting();
  CHECK(next.existing_chunks() >= static_cast<int64_t>(first.chunks.size()));
  StreamRef same = Store(next, data);
  CHECK(same.chunks == first.chunks);
  CHECK(next.new_chunks() == 0);
  CHECK(next.stored_bytes() == 0);
  StreamRef appended = Store(next, data + Rows(50, 3));
  CHECK(next.new_chunks() >= 1);
  CHECK(next.new_chunks() <= 2);  // only the last chunk(s) changed
  ChunkFetcher fetcher(*t.repo, 2, 4);
  CHECK(Fetch(fetcher, appended) == data + Rows(50, 3));
}

TEST_CASE("chunk stream: a manifest that does not match the chunks is kCorruption") {
  TestRepo t;
  ChunkUploader uploader(*t.repo, 2, 4);
  const std::string data = Rows(3000, 4);
  StreamRef ref = Store(uploader, data);
  REQUIRE(ref.chunks.size() > 3);
  ChunkFetcher fetcher(*t.repo, 2, 4);

  StreamRef swapped = ref;
  std::swap(swapped.chunks[0], swapped.chunks[1]);  // every chunk authentic, order wrong
  Error e = FetchError(fetcher, swapped);
  CHECK(e.code() == ErrorCode::kCorruption);
  CHECK(std::string(e.what()).find("table public.t") != std::string::npos);

  StreamRef dropped = ref;
  dropped.chunks.pop_back();
  CHECK(FetchError(fetcher, dropped).code() == ErrorCode::kCorruption);

  StreamRef wrong_hash = ref;
  wrong_hash.sha256 = std::string(64, '0');
  CHECK(FetchError(fetcher, wrong_hash).code() == ErrorCode::kCorruption);
}

TEST_CASE("chunk stream: a damaged or missing chunk is kCorruption naming the object") {
  TestRepo t;
  ChunkUploader uploader(*t.repo, 2, 4);
  StreamRef ref = Store(uploader, Rows(3000, 5));
  REQUIRE(ref.chunks.size() > 3);
  ChunkFetcher fetcher(*t.repo, 2, 4);
  const std::string victim = ref.chunks[1];
  const std::string path = t.PathOf(victim);
  const std::string original = Slurp(path);

  std::string flipped = original;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x04);
  for (const std::string& bad : {flipped, Slurp(t.PathOf(ref.chunks[2])), original.substr(0, 10)}) {
    Overwrite(path, bad);
    Error e = FetchError(fetcher, ref);
    CHECK(e.code() == ErrorCode::kCorruption);
    CHECK(std::string(e.what()).find(Repository::ChunkName(victim)) != std::string::npos);
  }
  fs::remove(path);
  Error missing = FetchError(fetcher, ref);
  CHECK(missing.code() == ErrorCode::kCorruption);
  CHECK(std::string(missing.what()).find(Repository::ChunkName(victim)) != std::string::npos);
}

TEST_CASE("chunk stream: a damaged chunk is reported once found, and a distrusting uploader stores it again") {
  TestRepo t;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> reports;
  t.repo->SetDamageSink([&](const std::string& id, const std::string& detail) {
    std::lock_guard<std::mutex> lock(mu);
    reports.emplace_back(id, detail);
  });
  const std::string data = Rows(3000, 6);
  StreamRef ref;
  {
    ChunkUploader uploader(*t.repo, 2, 4);
    uploader.LoadExisting();
    ref = Store(uploader, data);
  }
  REQUIRE(ref.chunks.size() > 3);
  const std::string victim = ref.chunks[1];
  const std::string path = t.PathOf(victim);
  std::string flipped = Slurp(path);
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x04);
  Overwrite(path, flipped);
  ChunkFetcher fetcher(*t.repo, 1, 1);
  CHECK(FetchError(fetcher, ref).code() == ErrorCode::kCorruption);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].first == victim);
  CHECK(reports[0].second.find(Repository::ChunkName(victim)) != std::string::npos);

  // Without distrust the next run deduplicates against the bad object (the old behaviour).
  {
    ChunkUploader trusting(*t.repo, 2, 4);
    trusting.LoadExisting();
    Store(trusting, data);
    CHECK(trusting.new_chunks() == 0);
    CHECK(Slurp(path) == flipped);
  }
  ChunkUploader uploader(*t.repo, 2, 4);
  uploader.LoadExisting();
  uploader.Distrust({victim, std::string(64, 'f')});  // the second one is never met
  StreamRef again = Store(uploader, data);
  CHECK(again.chunks == ref.chunks);
  CHECK(uploader.new_chunks() == 1);  // only the damaged chunk is stored again
  CHECK(uploader.TakeRestored() == std::vector<std::string>{victim});
  CHECK(uploader.TakeRestored().empty());
  CHECK(Slurp(path) != flipped);
  CHECK(Fetch(fetcher, ref) == data);
  Store(uploader, data);  // met again in the same run: stored once only
  CHECK(uploader.new_chunks() == 1);
}

TEST_CASE("chunk stream: after an upload failure, Recover lets the next stream (the next database) succeed") {
  TestRepo t;
  // Storage that cannot take chunks: a file where the chunks directory belongs.
  fs::remove_all(t.dir.path() + "/chunks");
  Overwrite(t.dir.path() + "/chunks", "not a directory");
  ChunkUploader uploader(*t.repo, 2, 4);
  const std::string first = Rows(3000, 21);
  CHECK_THROWS_AS(Store(uploader, first), Error);
  // Without Recover the error sticks: every later stream would fail too.
  CHECK_THROWS_AS(Store(uploader, Rows(10, 22)), Error);

  fs::remove(t.dir.path() + "/chunks");
  uploader.Recover();
  const std::string second = Rows(3000, 23);
  StreamRef ref = Store(uploader, second);
  // The chunks that failed were not counted as stored: the first stream stores them now.
  StreamRef again = Store(uploader, first);
  ChunkFetcher fetcher(*t.repo, 2, 4);
  CHECK(Fetch(fetcher, ref) == second);
  CHECK(Fetch(fetcher, again) == first);
}

TEST_CASE("chunk stream: a second night stores changed chunks as deltas against the first night's") {
  TestRepo t;
  ChunkUploader first_night(*t.repo, 2, 4);
  first_night.LoadExisting();
  const std::string night1 = Rows(20000, 7);
  StreamRef ref1 = Store(first_night, night1);
  CHECK(first_night.delta_chunks() == 0);
  CHECK(ref1.bases.empty());
  REQUIRE(ref1.anchors.size() == ref1.chunks.size());

  // Night 2: 1% of the rows updated; nearly every chunk holds one of them.
  const std::string night2 = UpdateOnePercent(night1, 3);
  ChunkUploader second_night(*t.repo, 2, 4);
  second_night.LoadExisting();
  StreamRef ref2 = Store(second_night, night2, nullptr, &ref1);
  CHECK(second_night.new_chunks() > static_cast<int64_t>(ref1.chunks.size()) / 2);
  CHECK(second_night.delta_chunks() > second_night.new_chunks() * 3 / 4);
  CHECK(second_night.stored_bytes() < first_night.stored_bytes() / 10);
  REQUIRE(ref2.bases.size() == ref2.chunks.size());
  for (size_t i = 0; i < ref2.chunks.size(); ++i) {
    if (ref2.bases[i].empty()) continue;
    CHECK(fs::exists(t.dir.path() + "/" + Repository::ChunkName(ref2.chunks[i], ref2.bases[i])));
    CHECK(fs::exists(t.PathOf(ref2.bases[i])));
  }
  ChunkFetcher fetcher(*t.repo, 2, 4);
  CHECK(Fetch(fetcher, ref2) == night2);
  CHECK(Fetch(fetcher, ref1) == night1);

  // Another run finds the deltas by listing: nothing is stored again, and their bases are known.
  ChunkUploader again(*t.repo, 2, 4);
  again.LoadExisting();
  StreamRef ref2b = Store(again, night2);
  CHECK(again.new_chunks() == 0);
  CHECK(ref2b.bases == ref2.bases);

  // Night 3 against night 2, whose chunks are deltas: deltas are taken against whole chunks
  // only, so reading any chunk never takes more than two objects.
  const std::string night3 = UpdateOnePercent(night2, 5);
  ChunkUploader third_night(*t.repo, 2, 4);
  third_night.LoadExisting();
  StreamRef ref3 = Store(third_night, night3, nullptr, &ref2);
  CHECK(third_night.delta_chunks() > 0);
  for (const auto& base : ref3.bases) {
    if (!base.empty()) CHECK(fs::exists(t.PathOf(base)));
  }
  CHECK(Fetch(fetcher, ref3) == night3);

  // An uploader that does not know the stored chunks (hidden on B2, or distrusted) stores the
  // same data again, whole: never as a delta against itself.
  ChunkUploader blind(*t.repo, 2, 4);
  StreamRef ref3b = Store(blind, night3, nullptr, &ref3);
  CHECK(blind.delta_chunks() == 0);
  CHECK(ref3b.bases.empty());
  for (const auto& id : ref3b.chunks) CHECK(fs::exists(t.PathOf(id)));
}

TEST_CASE("chunk stream: a base that cannot be read only costs the saving: the chunk is stored whole") {
  TestRepo t;
  ChunkUploader first_night(*t.repo, 2, 4);
  first_night.LoadExisting();
  const std::string night1 = Rows(5000, 9);
  StreamRef ref1 = Store(first_night, night1);
  // Every base damaged (a flipped byte): the uploader still lists them, but cannot open them.
  for (const auto& id : ref1.chunks) {
    std::string sealed = Slurp(t.PathOf(id));
    sealed[sealed.size() / 2] ^= 1;
    Overwrite(t.PathOf(id), sealed);
  }
  ChunkUploader second_night(*t.repo, 2, 4);
  second_night.LoadExisting();
  const std::string night2 = UpdateOnePercent(night1, 1);
  StreamRef ref2 = Store(second_night, night2, nullptr, &ref1);
  CHECK(second_night.new_chunks() > 0);
  CHECK(second_night.delta_chunks() == 0);
  CHECK(ref2.bases.empty());
  // The chunks stored this night read back whole (the unchanged ones are the damaged ones).
  const std::set<std::string> old_ids(ref1.chunks.begin(), ref1.chunks.end());
  size_t fresh = 0;
  for (const auto& id : ref2.chunks) {
    if (old_ids.count(id)) continue;
    ++fresh;
    CHECK(t.repo->ChunkId(dhanbak::stream::FetchChunk(*t.repo, id)) == id);
  }
  CHECK(fresh == static_cast<size_t>(second_night.new_chunks()));
}
}  // namespace chunk_stream_test
