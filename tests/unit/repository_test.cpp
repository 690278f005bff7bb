// Repository keys, configuration and object naming (src/format/repository.hpp) on a local
// directory: init/open, the passphrase check, keyed chunk ids, chunk and manifest sealing, and
// the rules for adding and removing passphrases. scrypt runs with tiny parameters here (the
// key file records them, so Open uses the same) to keep the suite fast.
#include "common/temp_dir.hpp"
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "dhanbak/format/manifest.hpp"
#include "format/repository.hpp"
#include "storage/local/local_storage.hpp"

namespace repository_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::format::KdfParams;
using dhanbak::format::Manifest;
using dhanbak::format::Repository;
using dhanbak::storage::LocalStorage;
namespace fs = std::filesystem;

namespace {

// A private temporary directory removed with its contents.
using ScratchDir = dhanbak::TempDir;

const KdfParams kFastKdf{1u << 10, 8, 1};

template <typename Fn>
Error ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected a dhanbak::Error");
  return Error(ErrorCode::kInternal, "unreachable");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Manifest SampleManifest() {
  Manifest m;
  m.backup_id = "20240115T020000Z-0a1b2c3d";
  m.database = "prod-dhanman-sales";
  m.started_at = 1705284000000000;
  m.snapshot_time = 1705284000500000;
  m.finished_at = 1705284060000000;
  m.server_version = "15.18";
  m.server_version_num = 150018;
  m.pg_dump_version = "15.18";
  m.properties.encoding = "UTF8";
  m.properties.owner = "dhanman_user";
  m.schema = {1234, std::string(64, 'a'), {std::string(64, 'b')}, {}, {}};
  dhanbak::format::TableEntry t;
  t.schema = "public";
  t.name = "invoices";
  t.columns = {"id", "customer_id", "total"};
  t.rows = 42;
  t.data = {4200, std::string(64, 'c'), {std::string(64, 'd'), std::string(64, 'e')}, {}, {}};
  m.tables.push_back(t);
  return m;
}

}  // namespace

TEST_CASE("repository: init then open with the same passphrase") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "correct horse battery staple", kFastKdf);
  CHECK(storage.Stat("config").has_value());
  int keys = 0;
  storage.List("keys/", [&](const auto&) { ++keys; });
  CHECK(keys == 1);
  auto repo = Repository::Open(storage, "correct horse battery staple");
  REQUIRE(repo);
  CHECK(repo->repository_id().size() == 32);
  CHECK(repo->chunker_params().min_size > 0);
  CHECK(repo->chunker_params().max_size >= repo->chunker_params().min_size);
  CHECK_FALSE(repo->unlocked_key_id().empty());
  // The passphrase is never written anywhere in the repository.
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    if (entry.is_regular_file()) {
      CHECK(ReadFile(entry.path().string()).find("correct horse") == std::string::npos);
    }
  }
  // A second Open gives the same repository.
  auto again = Repository::Open(storage, "correct horse battery staple");
  CHECK(again->repository_id() == repo->repository_id());
  CHECK(again->chunker_params().seed == repo->chunker_params().seed);
}

TEST_CASE("repository: a wrong passphrase is kAuth 'wrong passphrase'") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "right", kFastKdf);
  Error e = ErrorOf([&] { Repository::Open(storage, "wrong"); });
  CHECK(e.code() == ErrorCode::kAuth);
  CHECK(std::string(e.what()).find("wrong passphrase") != std::string::npos);
  CHECK(std::string(e.what()).find("right") == std::string::npos);  // no secret in messages
  CHECK(ErrorOf([&] { Repository::Open(storage, ""); }).code() == ErrorCode::kAuth);
}

TEST_CASE("repository: open where there is none is kNotFound; init twice is refused") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  CHECK(ErrorOf([&] { Repository::Open(storage, "x"); }).code() == ErrorCode::kNotFound);
  Repository::Init(storage, "first", kFastKdf);
  std::string config_before = storage.Get("config", std::nullopt);
  Error e = ErrorOf([&] { Repository::Init(storage, "second", kFastKdf); });
  CHECK(e.code() == ErrorCode::kInvalidArgument);
  CHECK(std::string(e.what()).find("already exists") != std::string::npos);
  // Nothing was overwritten: the first passphrase still opens it, the second does not.
  CHECK(storage.Get("config", std::nullopt) == config_before);
  CHECK(Repository::Open(storage, "first") != nullptr);
  CHECK(ErrorOf([&] { Repository::Open(storage, "second"); }).code() == ErrorCode::kAuth);
}

TEST_CASE("repository: an empty passphrase is refused at init") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  CHECK(ErrorOf([&] { Repository::Init(storage, "", kFastKdf); }).code() == ErrorCode::kConfig);
  CHECK_FALSE(storage.Stat("config").has_value());
}

TEST_CASE("repository: chunk ids are deterministic, keyed per repository, and not a plain hash") {
  ScratchDir dir_a, dir_b;
  LocalStorage a_storage(dir_a.path()), b_storage(dir_b.path());
  Repository::Init(a_storage, "pass", kFastKdf);
  Repository::Init(b_storage, "pass", kFastKdf);
  auto a = Repository::Open(a_storage, "pass");
  auto a2 = Repository::Open(a_storage, "pass");
  auto b = Repository::Open(b_storage, "pass");
  const std::string data = "1\tacme corp\t2024-01-15\n";
  std::string id = a->ChunkId(data);
  CHECK(id.size() == 64);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a->ChunkId(data) == id);
  CHECK(a2->ChunkId(data) == id);
  CHECK(a->ChunkId(data + "x") != id);
  // Same passphrase, same content, another repository: another id (ids reveal nothing).
  CHECK(b->ChunkId(data) != id);
  // Not the SHA-256 of the content (e3b0c442... is SHA-256 of the empty string).
  CHECK(a->ChunkId("").rfind("e3b0c442", 0) != 0);
  CHECK(Repository::ChunkName(id) == "chunks/" + id.substr(0, 2) + "/" + id);
}

TEST_CASE("repository: chunks round-trip and are bound to their id") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "pass", kFastKdf);
  auto repo = Repository::Open(storage, "pass");
  const std::string p = "1\tfirst row\n2\tsecond row\n";
  const std::string q = "3\tthird row\n";
  std::string id_p = repo->ChunkId(p), id_q = repo->ChunkId(q);
  std::string sealed_p = repo->SealChunk(id_p, p);
  CHECK(repo->OpenChunk(id_p, sealed_p) == p);

  // A chunk stored under another id (a file copied over another one): the name is bound in.
  Error moved = ErrorOf([&] { repo->OpenChunk(id_q, sealed_p); });
  CHECK(moved.code() == ErrorCode::kCorruption);
  CHECK(std::string(moved.what()).find(Repository::ChunkName(id_q)) != std::string::npos);

  // Sealed under q's name but holding p's bytes (what a writer bug would produce): the content
  // check catches it even though authentication passes.
  std::string mislabelled = repo->SealChunk(id_q, p);
  Error mismatch = ErrorOf([&] { repo->OpenChunk(id_q, mislabelled); });
  CHECK(mismatch.code() == ErrorCode::kCorruption);
  CHECK(std::string(mismatch.what()).find(Repository::ChunkName(id_q)) != std::string::npos);

  // A chunk of another repository does not open here.
  ScratchDir other_dir;
  LocalStorage other_storage(other_dir.path());
  Repository::Init(other_storage, "pass", kFastKdf);
  auto other = Repository::Open(other_storage, "pass");
  std::string foreign_id = other->ChunkId(p);
  CHECK(ErrorOf([&] { repo->OpenChunk(foreign_id, other->SealChunk(foreign_id, p)); }).code() ==
        ErrorCode::kCorruption);
}

TEST_CASE("repository: manifests round-trip through PutManifest / GetManifest, encrypted") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "pass", kFastKdf);
  auto repo = Repository::Open(storage, "pass");
  Manifest m = SampleManifest();
  repo->PutManifest(m);
  CHECK(Repository::ManifestName(m.backup_id) == "manifests/" + m.backup_id);
  std::string raw = storage.Get("manifests/" + m.backup_id, std::nullopt);
  CHECK(raw.find("prod-dhanman-sales") == std::string::npos);
  CHECK(raw.find("invoices") == std::string::npos);

  Manifest back = repo->GetManifest(m.backup_id);
  CHECK(dhanbak::format::ManifestToJson(back) == dhanbak::format::ManifestToJson(m));
  CHECK(back.tables.at(0).data.chunks.size() == 2);
  CHECK(repo->ListManifestIds() == std::vector<std::string>{m.backup_id});

  // A manifest copied to another backup id is not accepted as that backup.
  storage.Put("manifests/20240116T020000Z-ffffffff", raw);
  Error e = ErrorOf([&] { repo->GetManifest("20240116T020000Z-ffffffff"); });
  CHECK(e.code() == ErrorCode::kCorruption);
  CHECK(std::string(e.what()).find("manifests/20240116T020000Z-ffffffff") != std::string::npos);
  CHECK(ErrorOf([&] { repo->GetManifest("20240117T020000Z-00000000"); }).code() == ErrorCode::kNotFound);
}

TEST_CASE("repository: a tampered config is detected at open") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "pass", kFastKdf);
  std::string config = storage.Get("config", std::nullopt);
  config[config.size() / 2] = static_cast<char>(config[config.size() / 2] ^ 0x10);
  storage.Put("config", config);
  CHECK(ErrorOf([&] { Repository::Open(storage, "pass"); }).code() == ErrorCode::kCorruption);
}

TEST_CASE("repository: keys can be added, listed and removed under the rules") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "alpha", kFastKdf);
  auto by_alpha = Repository::Open(storage, "alpha");
  const std::string alpha_id = by_alpha->unlocked_key_id();
  REQUIRE(by_alpha->ListKeys().size() == 1);
  CHECK(by_alpha->ListKeys()[0].id == alpha_id);
  CHECK_FALSE(by_alpha->ListKeys()[0].created.empty());

  const std::string beta_id = by_alpha->AddKey("beta", kFastKdf);
  CHECK(beta_id != alpha_id);
  auto keys = by_alpha->ListKeys();
  REQUIRE(keys.size() == 2);

  // Both passphrases unlock the same master key: same repository, same chunk ids.
  auto by_beta = Repository::Open(storage, "beta");
  CHECK(by_beta->unlocked_key_id() == beta_id);
  CHECK(by_beta->repository_id() == by_alpha->repository_id());
  CHECK(by_beta->ChunkId("x") == by_alpha->ChunkId("x"));

  // The key one unlocked with cannot be removed through that session.
  Error self = ErrorOf([&] { by_alpha->RemoveKey(alpha_id); });
  CHECK(self.code() == ErrorCode::kInvalidArgument);
  CHECK(ErrorOf([&] { by_alpha->RemoveKey("0000000000000000"); }).code() == ErrorCode::kNotFound);
  CHECK(by_alpha->ListKeys().size() == 2);

  // Removing beta through alpha: beta no longer opens, alpha still does.
  by_alpha->RemoveKey(beta_id);
  CHECK(by_alpha->ListKeys().size() == 1);
  CHECK(ErrorOf([&] { Repository::Open(storage, "beta"); }).code() == ErrorCode::kAuth);
  CHECK(Repository::Open(storage, "alpha") != nullptr);

  // The last key is never removed, even by a session unlocked with a key removed since.
  Error last = ErrorOf([&] { by_beta->RemoveKey(alpha_id); });
  CHECK(last.code() == ErrorCode::kInvalidArgument);
  CHECK(std::string(last.what()).find("last key") != std::string::npos);
  CHECK(Repository::Open(storage, "alpha") != nullptr);
}

TEST_CASE("repository: a planted key with an enormous scrypt cost is ignored, not computed") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "correct horse battery staple", kFastKdf);
  // N = 2^30 would need 128 GiB and minutes; a key file anyone with write access could plant.
  std::string key_name;
  storage.List("keys/", [&](const auto& o) { key_name = o.name; });
  nlohmann::json planted = nlohmann::json::parse(storage.Get(key_name, std::nullopt));
  planted["n"] = 1ull << 30;
  storage.Put("keys/0000000000000000", planted.dump());
  auto start = std::chrono::steady_clock::now();
  auto repo = Repository::Open(storage, "correct horse battery staple");
  CHECK(repo);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  CHECK(dhanbak::format::KdfParamsProblem(1ull << 30, 8, 1).has_value());
  CHECK(dhanbak::format::KdfParamsProblem(1u << 17, 8, 1) == std::nullopt);  // the default
  CHECK(dhanbak::format::KdfParamsProblem(1000, 8, 1).has_value());          // not a power of two
  CHECK(dhanbak::format::KdfParamsProblem(1u << 17, 8, 64).has_value());
  CHECK(ErrorOf([&] { Repository::Init(storage, "x", KdfParams{1ull << 24, 8, 1}); }).code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("repository: key files bind their scrypt parameters; format-1 keys still open") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "correct horse battery staple", kFastKdf);
  std::string key_name;
  storage.List("keys/", [&](const auto& o) { key_name = o.name; });
  nlohmann::json key = nlohmann::json::parse(storage.Get(key_name, std::nullopt));
  CHECK(key["format"] == 2);

  // Same salt and cost, but the format downgraded to 1: the associated data no longer matches.
  nlohmann::json downgraded = key;
  downgraded["format"] = 1;
  storage.Put(key_name, downgraded.dump());
  CHECK(ErrorOf([&] { Repository::Open(storage, "correct horse battery staple"); }).code() == ErrorCode::kAuth);

  // A format-1 key as written by earlier versions (associated data "dhanbak key <id>") opens.
  auto repo_bytes = [&] {
    storage.Put(key_name, key.dump());
    return Repository::Open(storage, "correct horse battery staple");
  }();
  std::string id = key_name.substr(5);
  std::string salt = dhanbak::Base64Decode(key["salt"].get<std::string>());
  std::string wrapping = dhanbak::crypto::Scrypt("correct horse battery staple", salt, 1u << 10, 8, 1,
                                                 dhanbak::crypto::kKeySize);
  std::string nonce = dhanbak::crypto::RandomBytes(dhanbak::crypto::kNonceSize);
  // The master key is not exported; unwrap it from the format-2 key to re-wrap it the old way.
  std::string master = dhanbak::crypto::AesGcmOpen(
      wrapping, dhanbak::Base64Decode(key["nonce"].get<std::string>()),
      "dhanbak key " + id + " scrypt n=1024 r=8 p=1 salt=" + key["salt"].get<std::string>(),
      dhanbak::Base64Decode(key["wrapped_master_key"].get<std::string>()));
  nlohmann::json old = key;
  old["format"] = 1;
  old["nonce"] = dhanbak::Base64Encode(nonce);
  old["wrapped_master_key"] =
      dhanbak::Base64Encode(dhanbak::crypto::AesGcmSeal(wrapping, nonce, "dhanbak key " + id, master));
  storage.Put(key_name, old.dump());
  auto reopened = Repository::Open(storage, "correct horse battery staple");
  CHECK(reopened->repository_id() == repo_bytes->repository_id());
}

TEST_CASE("repository: chunk object names, whole and delta") {
  const std::string id(64, 'a'), base = "ab" + std::string(62, '0');
  CHECK(Repository::ChunkName(id, base) == "chunks/aa/" + id + "." + base);
  auto whole = Repository::ParseChunkName(Repository::ChunkName(id));
  REQUIRE(whole);
  CHECK(whole->id == id);
  CHECK(whole->base.empty());
  auto delta = Repository::ParseChunkName(Repository::ChunkName(id, base));
  REQUIRE(delta);
  CHECK(delta->id == id);
  CHECK(delta->base == base);
  for (const std::string& bad : std::vector<std::string>{"chunks/aa/" + id.substr(1), "chunks/ab/" + id, "chunks/aa/" + id + ".",
                                "chunks/aa/" + id + ".xyz", "chunks/aa/.tmp-123", "manifests/" + id,
                                "chunks/aa/" + std::string(64, 'A')}) {
    CAPTURE(bad);
    CHECK_FALSE(Repository::ParseChunkName(bad));
  }
}

TEST_CASE("repository: a chunk stored as a delta reads back through its base, and only through it") {
  ScratchDir dir;
  LocalStorage storage(dir.path());
  Repository::Init(storage, "pass", kFastKdf);
  auto repo = Repository::Open(storage, "pass");
  std::string old_rows, new_rows;
  for (int i = 0; i < 20000; ++i) {
    std::string row = std::to_string(i) + "\tinvoice " + std::to_string(i * 7919 % 10007) + "\tdue\n";
    old_rows += row;
    new_rows += i % 100 == 7 ? std::to_string(i) + "\tinvoice paid\n" : row;
  }
  const std::string base_id = repo->ChunkId(old_rows), id = repo->ChunkId(new_rows);
  storage.Put(Repository::ChunkName(base_id), repo->SealChunk(base_id, old_rows));
  const std::string delta = repo->SealDeltaChunk(id, new_rows, base_id, old_rows);
  CHECK(delta.size() < repo->SealChunk(id, new_rows).size() / 4);
  storage.Put(Repository::ChunkName(id, base_id), delta);
  CHECK(repo->ReadChunk(id, base_id) == new_rows);
  CHECK(repo->OpenSealed(Repository::ChunkName(id, base_id), delta) == new_rows);

  // The base is bound into the delta's name: stored under another base's name it does not open.
  const std::string other = repo->ChunkId("other\n");
  storage.Put(Repository::ChunkName(other), repo->SealChunk(other, "other\n"));
  storage.Put(Repository::ChunkName(id, other), delta);
  CHECK(ErrorOf([&] { repo->ReadChunk(id, other); }).code() == ErrorCode::kCorruption);
  // A delta is never opened as a whole chunk, nor a whole one as a delta.
  CHECK(ErrorOf([&] { repo->OpenChunk(id, delta); }).code() == ErrorCode::kCorruption);
  storage.Put(Repository::ChunkName(id, other), repo->SealChunk(id, new_rows));
  CHECK(ErrorOf([&] { repo->ReadChunk(id, other); }).code() == ErrorCode::kCorruption);

  // Its base gone: kCorruption naming both objects, and the base is reported damaged.
  std::vector<std::string> reported;
  repo->SetDamageSink([&](const std::string& chunk, const std::string&) { reported.push_back(chunk); });
  storage.Remove(Repository::ChunkName(base_id));
  Error lost = ErrorOf([&] { repo->ReadChunk(id, base_id); });
  CHECK(lost.code() == ErrorCode::kCorruption);
  CHECK(std::string(lost.what()).find(Repository::ChunkName(id, base_id)) != std::string::npos);
  CHECK(std::string(lost.what()).find(Repository::ChunkName(base_id)) != std::string::npos);
  CHECK(reported == std::vector<std::string>{base_id});
  // A whole copy stored since (a backup that met the data again) stands in for the delta.
  storage.Put(Repository::ChunkName(id), repo->SealChunk(id, new_rows));
  CHECK(repo->ReadChunk(id, base_id) == new_rows);
}
}  // namespace repository_test
