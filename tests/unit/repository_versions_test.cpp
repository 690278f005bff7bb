// Repository reads on storage that keeps versions (B2), against what a key with writeFiles can
// do behind dhanbak's back: put a foreign version over an object, or hide its name. Readers
// use the version dhanbak wrote, the normal path never lists versions, and only when no
// version authenticates does the original error stand. (VersionedMemoryStorage stands in for
// B2; the emulator-backed tests in tests/integration/b2_end_to_end_test.cpp run the same
// cases through the real binary.)
#include <doctest/doctest.h>

#include <string>

#include "support/error_code.hpp"
#include "dhanbak/error.hpp"
#include "dhanbak/format/manifest.hpp"
#include "format/repository.hpp"
#include "support/versioned_memory_storage.hpp"

namespace repository_versions_test {  // this file's names, apart from its unity batch's

using dhanbak::Error;
using dhanbak::ErrorCode;
using dhanbak::format::KdfParams;
using dhanbak::format::Manifest;
using dhanbak::format::Repository;
using dhanbak::test::VersionedMemoryStorage;

using dhanbak::test::CodeOf;

namespace {

const KdfParams kTinyKdf{1u << 10, 8, 1};
const char kPassphrase[] = "versions passphrase";

Manifest ManifestWithId(const std::string& id) {
  Manifest m;
  m.backup_id = id;
  m.database = "db";
  m.schema = {0, std::string(64, 'a'), {}, {}, {}};
  m.globals = {0, std::string(64, 'b'), {}, {}, {}};
  return m;
}

// A chunk stored by dhanbak, under its id.
std::string StoreChunk(const Repository& repo, const std::string& plaintext) {
  std::string id = repo.ChunkId(plaintext);
  repo.storage().Put(Repository::ChunkName(id), repo.SealChunk(id, plaintext));
  return id;
}

// What an attacker can upload: bytes of the right size that do not authenticate.
std::string Garbage(const std::string& like) {
  std::string bad = like;
  for (auto& c : bad) c = static_cast<char>(c ^ 0x5a);
  return bad;
}

}  // namespace

TEST_CASE("versions: a foreign newest version of a chunk is skipped for the version dhanbak wrote") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, kPassphrase, kTinyKdf);
  auto repo = Repository::Open(storage, kPassphrase);
  const std::string id = StoreChunk(*repo, "chunk plaintext");
  const std::string name = Repository::ChunkName(id);

  const int before = storage.list_versions_calls();
  CHECK(repo->ReadChunk(id) == "chunk plaintext");
  CHECK(storage.list_versions_calls() == before);  // the normal path: one Get, no listing

  storage.Put(name, Garbage(storage.Get(name)));
  CHECK(CodeOf([&] { repo->OpenChunk(id, storage.Get(name)); }) == ErrorCode::kCorruption);
  CHECK(repo->ReadChunk(id) == "chunk plaintext");
  // Another chunk's sealed bytes under this name do not authenticate either.
  const std::string other = StoreChunk(*repo, "another chunk");
  storage.Put(name, storage.Get(Repository::ChunkName(other)));
  CHECK(repo->ReadChunk(id) == "chunk plaintext");
  // Hidden on top of all that: still found.
  storage.Hide(name);
  CHECK(repo->ReadChunk(id) == "chunk plaintext");
}

TEST_CASE("versions: when no version authenticates, the newest version's error stands") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, kPassphrase, kTinyKdf);
  auto repo = Repository::Open(storage, kPassphrase);
  const std::string id = repo->ChunkId("lost");
  const std::string name = Repository::ChunkName(id);
  CHECK(CodeOf([&] { repo->ReadChunk(id); }) == ErrorCode::kNotFound);
  storage.Put(name, "not sealed at all");
  storage.Put(name, "nor is this");
  try {
    repo->ReadChunk(id);
    FAIL("a chunk with no good version was read");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCorruption);
    CHECK(std::string(e.what()).find(name) != std::string::npos);
  }
  storage.Hide(name);
  CHECK(CodeOf([&] { repo->ReadChunk(id); }) == ErrorCode::kNotFound);
}

TEST_CASE("versions: a hidden manifest is still read and is listed by HiddenManifestIds") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, kPassphrase, kTinyKdf);
  auto repo = Repository::Open(storage, kPassphrase);
  repo->PutManifest(ManifestWithId("20240101T000000Z-aaaaaaaa"));
  repo->PutManifest(ManifestWithId("20240102T000000Z-bbbbbbbb"));
  repo->PutManifest(ManifestWithId("20240103T000000Z-cccccccc"));
  CHECK(repo->HiddenManifestIds().empty());

  storage.Hide(Repository::ManifestName("20240102T000000Z-bbbbbbbb"));
  CHECK(repo->ListManifestIds() ==
        std::vector<std::string>{"20240101T000000Z-aaaaaaaa", "20240103T000000Z-cccccccc"});
  CHECK(repo->HiddenManifestIds() == std::vector<std::string>{"20240102T000000Z-bbbbbbbb"});
  CHECK(repo->GetManifest("20240102T000000Z-bbbbbbbb").backup_id == "20240102T000000Z-bbbbbbbb");

  // A foreign version over another manifest: read past, and that name is not hidden.
  const std::string third = Repository::ManifestName("20240103T000000Z-cccccccc");
  storage.Put(third, Garbage(storage.Get(third)));
  CHECK(repo->GetManifest("20240103T000000Z-cccccccc").database == "db");
  CHECK(repo->HiddenManifestIds() == std::vector<std::string>{"20240102T000000Z-bbbbbbbb"});

  // Storing the name again (what a backup does with a hidden chunk) un-hides it.
  const std::string second = Repository::ManifestName("20240102T000000Z-bbbbbbbb");
  std::string hidden_version;
  storage.ListVersions(second, [&](const std::string&, const dhanbak::storage::ObjectVersion& v) {
    if (!v.hide_marker && hidden_version.empty()) hidden_version = v.id;
  });
  storage.Put(second, storage.GetVersion(second, hidden_version));
  CHECK(repo->HiddenManifestIds().empty());
  CHECK(repo->ListManifestIds().size() == 3);
}

TEST_CASE("versions: a hidden or overwritten config and key files still open the repository") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, kPassphrase, kTinyKdf);
  const std::string repository_id = Repository::Open(storage, kPassphrase)->repository_id();
  std::string key_name;
  storage.List("keys/", [&](const dhanbak::storage::ObjectInfo& o) { key_name = o.name; });
  REQUIRE(!key_name.empty());
  const int before = storage.list_versions_calls();
  Repository::Open(storage, kPassphrase);
  CHECK(storage.list_versions_calls() == before);  // nothing listed when nothing is wrong

  storage.Put("config", Garbage(storage.Get("config")));
  CHECK(Repository::Open(storage, kPassphrase)->repository_id() == repository_id);
  storage.Hide("config");
  CHECK_FALSE(storage.Stat("config").has_value());
  CHECK(Repository::Open(storage, kPassphrase)->repository_id() == repository_id);

  // A key file replaced by one that does not open (valid JSON, wrong wrapped key), then hidden.
  std::string key_file = storage.Get(key_name);
  const auto at = key_file.find("\"wrapped_master_key\": \"") + 24;
  key_file[at] = key_file[at] == 'A' ? 'B' : 'A';
  storage.Put(key_name, key_file);
  auto repo = Repository::Open(storage, kPassphrase);
  CHECK(repo->repository_id() == repository_id);
  CHECK(repo->unlocked_key_id() == key_name.substr(5));
  storage.Hide(key_name);
  CHECK(Repository::Open(storage, kPassphrase)->repository_id() == repository_id);
  // A wrong passphrase is still just that.
  CHECK(CodeOf([&] { Repository::Open(storage, "not the passphrase"); }) == ErrorCode::kAuth);
}

TEST_CASE("versions: a repository with every config version hidden and foreign is not opened") {
  VersionedMemoryStorage storage;
  Repository::Init(storage, kPassphrase, kTinyKdf);
  storage.Put("config", "foreign bytes");
  storage.Remove("config");  // nothing of dhanbak's left
  CHECK(CodeOf([&] { Repository::Open(storage, kPassphrase); }) == ErrorCode::kNotFound);
  storage.Put("config", "foreign bytes");
  storage.Hide("config");
  CHECK(CodeOf([&] { Repository::Open(storage, kPassphrase); }) == ErrorCode::kNotFound);
}

}  // namespace repository_versions_test
