// Repository — the keys, configuration and object naming of a dhanbak repository on a Storage
// (docs/repository-format.md). Holds the unwrapped master key in memory; never logs it.
//
// Object names:
//   keys/<key-id>                 plaintext JSON: scrypt parameters + wrapped master key
//   config                        sealed (kind config): repository id, chunker parameters
//   chunks/<id[0:2]>/<id>         sealed (kind chunk): one chunk, id = HMAC-SHA-256 of plaintext
//   chunks/<id[0:2]>/<id>.<base>  the same chunk stored as a delta against whole chunk <base>
//   manifests/<backup-id>         sealed (kind manifest): one finished backup
//   wal/...                       sealed (kind wal): the WAL archive (wal/wal_file.hpp)
//   basebackups/<backup-id>       sealed (kind base backup): one usable base backup
// Every sealed object is read through ReadSealed: the newest version, or when that one fails
// authentication or the name is hidden, the newest other version that authenticates (someone
// with a write-only key can add versions and hide names, but cannot forge a sealed object).
// Thread-safety: const methods may be called concurrently.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "dhanbak/format/base_backup_manifest.hpp"
#include "dhanbak/format/manifest.hpp"
#include "dhanbak/storage/storage.hpp"
#include "stream/chunker.hpp"

namespace dhanbak::format {

struct KeyInfo {
  std::string id;
  std::string created;  // UTC ISO time
  std::string host;
};

// scrypt cost: N = 2^17, r = 8, p = 1 (128 MiB, ~0.3 s), OWASP's recommendation for scrypt.
struct KdfParams {
  uint64_t n = 1u << 17;
  uint64_t r = 8;
  uint64_t p = 1;
};

// The least scrypt cost: for keys whose passphrase is itself random (a scratch repository's), and
// for the keys the test suites make (DHANBAK_TESTONLY_WEAKEN_KDF).
inline constexpr KdfParams kCheapKdf{1u << 10, 8, 1};

// Upper bounds on a key's scrypt cost (2x the default memory, 4x its work): a key file planted by
// someone who can write to the repository cannot make opening it take minutes or gigabytes.
inline constexpr uint64_t kMaxScryptN = 1u << 20;
inline constexpr uint64_t kMaxScryptMemory = 256ull << 20;
inline constexpr uint64_t kMaxScryptWork = 1ull << 22;
// Why (n, r, p) is refused, or nullopt when it is within bounds.
std::optional<std::string> KdfParamsProblem(uint64_t n, uint64_t r, uint64_t p);

class Repository {
 public:
  // Creates a new repository; refuses (kInvalidArgument) if one already exists there.
  static void Init(storage::Storage& storage, const std::string& passphrase,
                   const KdfParams& kdf = {});
  // Unlocks with any key; kNotFound if there is no repository, kAuth "wrong passphrase".
  static std::unique_ptr<Repository> Open(storage::Storage& storage, const std::string& passphrase);

  storage::Storage& storage() const { return storage_; }
  const std::string& repository_id() const { return repository_id_; }
  const stream::ChunkerParams& chunker_params() const { return chunker_; }

  std::string ChunkId(std::string_view plaintext) const;  // 64 lowercase hex
  // A chunk object: chunk `id` stored whole (`base` empty), or as a delta against the plaintext
  // of chunk `base`, which is always stored whole (a delta chain is never longer than one link).
  struct ChunkObject {
    std::string id;
    std::string base;
  };
  static std::string ChunkName(const std::string& id, const std::string& base = "");
  // nullopt for a name that is not a chunk object's (e.g. a temporary file).
  static std::optional<ChunkObject> ParseChunkName(std::string_view name);
  // What keeps chunk `id` (stored as a delta against `base` when not empty) from being read, given
  // the names of the stored objects; "" when nothing does. A whole copy stands in for a delta.
  static std::string ChunkStorageProblem(const std::string& id, const std::string& base,
                                         const std::unordered_set<std::string>& stored_names);
  std::string SealChunk(const std::string& id, std::string_view plaintext) const;
  // SealChunk's object written to `out` (at least SealedBound(plaintext.size()) bytes); returns
  // its length.
  size_t SealChunkInto(char* out, const std::string& id, std::string_view plaintext) const;
  std::string SealDeltaChunk(const std::string& id, std::string_view plaintext, const std::string& base,
                             std::string_view base_plaintext) const;
  // Opens a whole chunk and checks that its content hashes to `id`. Throws kCorruption naming it.
  // `into`: a buffer whose capacity the plaintext reuses (a pooled one, stream/buffer_pool.hpp).
  std::string OpenChunk(const std::string& id, std::string_view sealed, std::string into = {}) const;
  // ReadSealed of chunk `id` as stored under ChunkName(id, base) (so its content is checked
  // against the id too). A delta whose base cannot be read falls back to a whole copy of the
  // chunk when one exists (a later backup stores one after the damage is reported). `into`: as
  // for OpenChunk.
  std::string ReadChunk(const std::string& id, const std::string& base = "", std::string into = {}) const;

  // Opens the sealed bytes of one version of `name`, a chunk, manifest or the config (the kind
  // follows from the name). Throws kCorruption when they do not authenticate.
  std::string OpenSealed(const std::string& name, std::string_view sealed) const;
  // The plaintext of sealed object `name` as dhanbak wrote it. Reads the newest version; only
  // when that fails authentication, or the name is hidden or missing, are the object's other
  // versions tried, newest first, and the first that authenticates is used, with a warning
  // naming the versions skipped. When none does, the newest version's error is thrown.
  std::string ReadSealed(const std::string& name) const;

  // Readers (ChunkFetcher, check) report a chunk they found missing or corrupted here; the sink
  // (set by the command's context) remembers it in the catalog so that the next backup stores
  // the chunk again instead of deduplicating against the bad object. Never throws; may be
  // called from many threads (the sink must be thread-safe). Without a sink it does nothing.
  using DamageSink = std::function<void(const std::string& chunk_id, const std::string& detail)>;
  void SetDamageSink(DamageSink sink) { damage_sink_ = std::move(sink); }
  void ReportDamagedChunk(const std::string& chunk_id, const std::string& detail) const;

  // Sealed objects of the WAL archive (wal/..., kind wal): archived files and the archive's
  // cluster identity. Read back with ReadSealed.
  std::string SealWalObject(const std::string& name, std::string_view plaintext) const;

  static std::string ManifestName(const std::string& backup_id);
  void PutManifest(const Manifest& manifest) const;
  Manifest GetManifest(const std::string& backup_id) const;
  std::vector<std::string> ListManifestIds() const;
  // Ids of manifests whose newest version is a hide marker (B2): absent from ListManifestIds, yet
  // still readable by GetManifest. dhanbak never hides anything; prune must not sweep their chunks.
  std::vector<std::string> HiddenManifestIds() const;

  // Base backups (basebackups/<id>, kind base backup): written only once the backup is usable.
  void PutBaseBackup(const BaseBackupManifest& manifest) const;
  BaseBackupManifest GetBaseBackup(const std::string& backup_id) const;
  std::vector<std::string> ListBaseBackupIds() const;

  std::string AddKey(const std::string& passphrase, const KdfParams& kdf = {}) const;
  std::vector<KeyInfo> ListKeys() const;
  // Refuses to remove the last key, or the key this process unlocked with.
  void RemoveKey(const std::string& id) const;
  const std::string& unlocked_key_id() const { return unlocked_key_id_; }

 private:
  Repository(storage::Storage& storage, std::string master_key, std::string key_id);
  std::string ReadSealedWith(const std::string& name,
                             const std::function<std::string(std::string_view)>& open) const;
  std::string OpenDeltaChunk(const ChunkObject& chunk, std::string_view sealed, std::string_view base_plaintext,
                             std::string into = {}) const;
  // The plaintext of a delta's base; a missing or damaged base is kCorruption about the delta.
  std::string ReadBase(const ChunkObject& delta) const;
  static std::string WriteKey(storage::Storage& storage, const std::string& master_key,
                              const std::string& passphrase, const KdfParams& kdf);

  storage::Storage& storage_;
  std::string enc_key_;
  std::string id_key_;
  std::string master_key_;
  std::string unlocked_key_id_;
  std::string repository_id_;
  stream::ChunkerParams chunker_;
  DamageSink damage_sink_;
};

}  // namespace dhanbak::format
