#include "format/repository.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/encoding.hpp"
#include "common/host_name.hpp"
#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "format/sealed_object.hpp"

namespace dhanbak::format {
namespace {

using nlohmann::json;

constexpr char kConfigName[] = "config";
constexpr char kKeysPrefix[] = "keys/";
constexpr char kManifestsPrefix[] = "manifests/";
constexpr char kChunksPrefix[] = "chunks/";
constexpr char kWalPrefix[] = "wal/";

// HKDF info strings: separate keys for encryption and chunk ids (repository-format.md §Keys).
constexpr char kEncryptionInfo[] = "dhanbak/v1/encryption";
constexpr char kChunkIdInfo[] = "dhanbak/v1/chunk-id";

std::string UtcNowIso() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Format 1 keys authenticate only their id; format 2 keys also bind the KDF and its parameters,
// so a key whose cost was altered no longer opens (repository-format.md §3).
std::string KeyAad(const std::string& key_id) { return "dhanbak key " + key_id; }
std::string KeyAadV2(const std::string& key_id, uint64_t n, uint64_t r, uint64_t p, const std::string& salt_b64) {
  return "dhanbak key " + key_id + " scrypt n=" + std::to_string(n) + " r=" + std::to_string(r) +
         " p=" + std::to_string(p) + " salt=" + salt_b64;
}

using Opener = std::function<std::string(std::string_view stored)>;

// The versions of exactly `name` (ListVersions matches a prefix), newest first.
std::vector<storage::ObjectVersion> VersionsOf(storage::Storage& storage, const std::string& name) {
  std::vector<storage::ObjectVersion> versions;
  storage.ListVersions(name, [&](const std::string& n, const storage::ObjectVersion& v) {
    if (n == name) versions.push_back(v);
  });
  return versions;
}

// The first of `versions` of `name` (newest first) that `open` accepts, or nullopt. Hide markers
// are passed over, and so is the newest version when `newest_read`: the caller read it by name
// already and `open` refused it. Only kCorruption and kNotFound count as refusals; anything else
// (the network) is thrown. A warning names the version used and every one passed over: dhanbak
// never writes those, so they are foreign.
std::optional<std::string> OpenFirstTrusted(storage::Storage& storage, const std::string& name,
                                            const std::vector<storage::ObjectVersion>& versions, bool newest_read,
                                            const Opener& open) {
  std::string skipped;
  auto skip = [&](const std::string& what) { skipped += (skipped.empty() ? "" : ", ") + what; };
  for (size_t i = 0; i < versions.size(); ++i) {
    const storage::ObjectVersion& v = versions[i];
    if (v.hide_marker) {
      skip("hide marker " + v.id);
      continue;
    }
    if (i == 0 && newest_read) {
      skip("version " + v.id + " (does not authenticate)");
      continue;
    }
    try {
      std::string plaintext = open(storage.GetVersion(name, v.id));
      if (!skipped.empty()) {
        log::Warning("object '" + name + "': skipped " + skipped + ", which dhanbak did not write; using version " +
                     v.id + ", which it did ('dhanbak check' reports the others)");
      }
      return plaintext;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorruption && e.code() != ErrorCode::kNotFound) throw;
      skip("version " + v.id + (e.code() == ErrorCode::kNotFound ? " (gone)" : " (does not authenticate)"));
    }
  }
  return std::nullopt;
}

std::string KeyIdOf(const std::string& name) { return name.substr(std::string(kKeysPrefix).size()); }

// The master key in key file `key_file` of key `id`, unwrapped with `passphrase`. Throws
// kCorruption when the file is malformed, of an unknown format, its scrypt cost is out of bounds
// (a planted key must not make the repository impossible to open), or the passphrase does not
// open it.
std::string UnwrapKey(const std::string& id, const std::string& key_file, const std::string& passphrase) {
  uint64_t n = 0, r = 0, p = 0;
  int key_format = 0;
  std::string salt_b64, nonce_b64, wrapped_b64;
  try {
    json j = json::parse(key_file);
    if (j.at("kdf").get<std::string>() != "scrypt") throw Error(ErrorCode::kCorruption, "key " + id + ": unknown kdf");
    key_format = j.at("format").get<int>();
    n = j.at("n").get<uint64_t>();
    r = j.at("r").get<uint64_t>();
    p = j.at("p").get<uint64_t>();
    salt_b64 = j.at("salt").get<std::string>();
    nonce_b64 = j.at("nonce").get<std::string>();
    wrapped_b64 = j.at("wrapped_master_key").get<std::string>();
  } catch (const json::exception&) {
    throw Error(ErrorCode::kCorruption, "key " + id + " is unreadable");
  }
  if (auto problem = KdfParamsProblem(n, r, p)) {
    log::Warning("ignoring key " + id + ": its scrypt parameters are out of bounds (" + *problem + ")");
    throw Error(ErrorCode::kCorruption, "key " + id + ": scrypt parameters out of bounds");
  }
  if (key_format != 1 && key_format != 2) throw Error(ErrorCode::kCorruption, "key " + id + ": unknown format");
  std::string wrapping = crypto::Scrypt(passphrase, Base64Decode(salt_b64), n, r, p, crypto::kKeySize);
  std::string aad = key_format == 1 ? KeyAad(id) : KeyAadV2(id, n, r, p, salt_b64);
  return crypto::AesGcmOpen(wrapping, Base64Decode(nonce_b64), aad, Base64Decode(wrapped_b64));
}

struct Unlocked {
  std::string master, key_id;
  bool key_files_seen = false;  // whether any version of any key file exists (hidden ones too)
};

// The first listed key file (newest version of each) that `passphrase` opens.
Unlocked UnlockListedKeys(storage::Storage& storage, const std::vector<std::string>& names,
                          const std::string& passphrase) {
  for (const auto& name : names) {
    try {
      return {UnwrapKey(KeyIdOf(name), storage.Get(name), passphrase), KeyIdOf(name), true};
    } catch (const Error& e) {
      // An unreadable key cannot unlock anything; others may. kNotFound: hidden meanwhile.
      if (e.code() != ErrorCode::kCorruption && e.code() != ErrorCode::kNotFound) throw;
    }
  }
  return {};
}

// No listed key file opened: one may be hidden, or have a foreign version put over it. Tries
// every other version of every key file, newest first (one listing; only on this failure path).
Unlocked UnlockOtherKeyVersions(storage::Storage& storage, const std::vector<std::string>& listed,
                                const std::string& passphrase) {
  std::map<std::string, std::vector<storage::ObjectVersion>> versions;
  storage.ListVersions(kKeysPrefix, [&](const std::string& name, const storage::ObjectVersion& v) {
    versions[name].push_back(v);
  });
  for (const auto& [name, of_name] : versions) {
    const std::string id = KeyIdOf(name);
    const bool newest_read = std::find(listed.begin(), listed.end(), name) != listed.end();
    auto master = OpenFirstTrusted(storage, name, of_name, newest_read, [&](std::string_view stored) {
      return UnwrapKey(id, std::string(stored), passphrase);
    });
    if (master) return {std::move(*master), id, true};
  }
  return {"", "", !versions.empty()};
}

}  // namespace

Repository::Repository(storage::Storage& storage, std::string master_key, std::string key_id)
    : storage_(storage),
      enc_key_(crypto::HkdfSha256(master_key, kEncryptionInfo, crypto::kKeySize)),
      id_key_(crypto::HkdfSha256(master_key, kChunkIdInfo, crypto::kKeySize)),
      master_key_(std::move(master_key)),
      unlocked_key_id_(std::move(key_id)) {}

std::optional<std::string> KdfParamsProblem(uint64_t n, uint64_t r, uint64_t p) {
  if (n < 2 || (n & (n - 1)) != 0) return "N must be a power of two";
  if (n > kMaxScryptN) return "N above 2^20";
  if (r < 1 || r > 32) return "r outside 1..32";
  if (p < 1 || p > 16) return "p outside 1..16";
  if (128 * n * r > kMaxScryptMemory) return "needs more than 256 MiB of memory";
  if (n * r * p > kMaxScryptWork) return "needs more than 4 times the default work";
  return std::nullopt;
}

std::string Repository::WriteKey(storage::Storage& storage, const std::string& master_key,
                                 const std::string& passphrase, const KdfParams& kdf) {
  if (passphrase.empty()) throw Error(ErrorCode::kConfig, "the repository passphrase is empty");
  if (auto problem = KdfParamsProblem(kdf.n, kdf.r, kdf.p)) {
    throw Error(ErrorCode::kInvalidArgument, "scrypt parameters out of bounds: " + *problem);
  }
  std::string key_id = HexEncode(crypto::RandomBytes(8));
  std::string salt = crypto::RandomBytes(32);
  std::string nonce = crypto::RandomBytes(crypto::kNonceSize);
  std::string wrapping = crypto::Scrypt(passphrase, salt, kdf.n, kdf.r, kdf.p, crypto::kKeySize);
  std::string salt_b64 = Base64Encode(salt);
  std::string wrapped =
      crypto::AesGcmSeal(wrapping, nonce, KeyAadV2(key_id, kdf.n, kdf.r, kdf.p, salt_b64), master_key);
  json j{{"format", 2},
         {"kdf", "scrypt"},
         {"n", kdf.n},
         {"r", kdf.r},
         {"p", kdf.p},
         {"salt", salt_b64},
         {"nonce", Base64Encode(nonce)},
         {"wrapped_master_key", Base64Encode(wrapped)},
         {"created", UtcNowIso()},
         {"host", HostName()}};
  storage.Put(kKeysPrefix + key_id, j.dump(2));
  return key_id;
}

void Repository::Init(storage::Storage& storage, const std::string& passphrase, const KdfParams& kdf) {
  if (storage.Stat(kConfigName)) {
    throw Error(ErrorCode::kInvalidArgument,
                "a repository already exists at " + storage.Describe());
  }
  std::string master = crypto::RandomBytes(crypto::kKeySize);
  std::string enc_key = crypto::HkdfSha256(master, kEncryptionInfo, crypto::kKeySize);
  stream::ChunkerParams chunker;
  std::string seed = crypto::RandomBytes(8);
  uint64_t seed_value = 0;
  for (unsigned char c : seed) seed_value = seed_value << 8 | c;
  json config{{"format", 1},
              {"repository_id", HexEncode(crypto::RandomBytes(16))},
              {"created", UtcNowIso()},
              {"chunker",
               {{"min_size", chunker.min_size},
                {"avg_bits", chunker.avg_bits},
                {"max_size", chunker.max_size},
                {"seed", seed_value}}}};
  // The key goes first: a config without a key would be a repository nobody can open.
  WriteKey(storage, master, passphrase, kdf);
  storage.Put(kConfigName, SealObject(enc_key, ObjectKind::kConfig, kConfigName, config.dump()));
}

std::unique_ptr<Repository> Repository::Open(storage::Storage& storage, const std::string& passphrase) {
  // A hidden config still has its version (a key with writeFiles can hide names): ReadSealed reads it.
  auto readable = [](const storage::ObjectVersion& v) { return !v.hide_marker; };
  if (!storage.Stat(kConfigName)) {
    auto versions = VersionsOf(storage, kConfigName);
    if (std::none_of(versions.begin(), versions.end(), readable)) {
      throw Error(ErrorCode::kNotFound, "no dhanbak repository at " + storage.Describe() +
                                            " (create one with 'dhanbak init')");
    }
  }
  std::vector<std::string> key_names;
  storage.List(kKeysPrefix, [&](const storage::ObjectInfo& o) { key_names.push_back(o.name); });
  Unlocked unlocked = UnlockListedKeys(storage, key_names, passphrase);
  if (unlocked.master.empty()) unlocked = UnlockOtherKeyVersions(storage, key_names, passphrase);
  if (unlocked.master.empty() && !unlocked.key_files_seen) {
    throw Error(ErrorCode::kCorruption, "repository at " + storage.Describe() + " has no keys");
  }
  if (unlocked.master.empty()) {
    throw Error(ErrorCode::kAuth, "wrong passphrase: no key of the repository at " +
                                      storage.Describe() + " accepts it");
  }
  std::unique_ptr<Repository> repo(new Repository(storage, unlocked.master, unlocked.key_id));
  json config;
  try {
    config = json::parse(repo->ReadSealed(kConfigName));
    if (config.at("format").get<int>() != 1) {
      throw Error(ErrorCode::kCorruption, "repository format is newer than this dhanbak understands");
    }
    repo->repository_id_ = config.at("repository_id").get<std::string>();
    const json& c = config.at("chunker");
    repo->chunker_.min_size = c.at("min_size").get<size_t>();
    repo->chunker_.avg_bits = c.at("avg_bits").get<size_t>();
    repo->chunker_.max_size = c.at("max_size").get<size_t>();
    repo->chunker_.seed = c.at("seed").get<uint64_t>();
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorruption, std::string("repository config is malformed: ") + e.what());
  }
  return repo;
}

std::string Repository::ChunkId(std::string_view plaintext) const {
  return HexEncode(crypto::HmacSha256(id_key_, plaintext));
}

std::string Repository::ChunkName(const std::string& id, const std::string& base) {
  return std::string(kChunksPrefix) + id.substr(0, 2) + "/" + id + (base.empty() ? "" : "." + base);
}

std::optional<Repository::ChunkObject> Repository::ParseChunkName(std::string_view name) {
  auto is_id = [](std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
  };
  if (!name.starts_with(kChunksPrefix)) return std::nullopt;
  std::string_view rest = name.substr(std::string_view(kChunksPrefix).size());
  if (rest.size() < 3 || rest[2] != '/') return std::nullopt;
  std::string_view dir = rest.substr(0, 2), file = rest.substr(3);
  ChunkObject chunk;
  if (auto dot = file.find('.'); dot != std::string_view::npos) {
    if (!is_id(file.substr(dot + 1))) return std::nullopt;
    chunk.base = std::string(file.substr(dot + 1));
    file = file.substr(0, dot);
  }
  if (!is_id(file) || file.substr(0, 2) != dir) return std::nullopt;
  chunk.id = std::string(file);
  return chunk;
}

std::string Repository::SealChunk(const std::string& id, std::string_view plaintext) const {
  return SealObject(enc_key_, ObjectKind::kChunk, ChunkName(id), plaintext);
}

size_t Repository::SealChunkInto(char* out, const std::string& id, std::string_view plaintext) const {
  return SealObjectInto(out, enc_key_, ObjectKind::kChunk, ChunkName(id), plaintext);
}

std::string Repository::SealWalObject(const std::string& name, std::string_view plaintext) const {
  return SealObject(enc_key_, ObjectKind::kWal, name, plaintext);
}

std::string Repository::SealDeltaChunk(const std::string& id, std::string_view plaintext, const std::string& base,
                                       std::string_view base_plaintext) const {
  return SealObjectAgainst(enc_key_, ObjectKind::kChunk, ChunkName(id, base), plaintext, base_plaintext);
}

namespace {

std::string CheckedChunk(const Repository& repo, const std::string& id, const std::string& name,
                         std::string plaintext) {
  if (repo.ChunkId(plaintext) != id) {
    throw Error(ErrorCode::kCorruption, "object '" + name + "' is corrupted: content does not match its id");
  }
  return plaintext;
}

}  // namespace

std::string Repository::OpenChunk(const std::string& id, std::string_view sealed, std::string into) const {
  std::string name = ChunkName(id);
  return CheckedChunk(*this, id, name,
                      OpenObject(enc_key_, ObjectKind::kChunk, name, sealed, std::nullopt, std::move(into)));
}

std::string Repository::OpenDeltaChunk(const ChunkObject& chunk, std::string_view sealed,
                                       std::string_view base_plaintext, std::string into) const {
  std::string name = ChunkName(chunk.id, chunk.base);
  return CheckedChunk(*this, chunk.id, name,
                      OpenObject(enc_key_, ObjectKind::kChunk, name, sealed, base_plaintext, std::move(into)));
}

std::string Repository::ReadBase(const ChunkObject& delta) const {
  try {
    return ReadSealed(ChunkName(delta.base));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorruption && e.code() != ErrorCode::kNotFound) throw;
    std::string why = e.code() == ErrorCode::kNotFound ? "object '" + ChunkName(delta.base) + "' is missing" : e.what();
    throw Error(ErrorCode::kCorruption, "object '" + ChunkName(delta.id, delta.base) +
                                            "' cannot be opened: it is a delta against chunk " + delta.base +
                                            ", and " + why);
  }
}

std::string Repository::ReadChunk(const std::string& id, const std::string& base, std::string into) const {
  // `into` serves the first attempt only: one that fails leaves it moved-from, and a retry
  // (another version, a whole copy) allocates.
  if (base.empty()) {
    return ReadSealedWith(ChunkName(id), [&](std::string_view sealed) { return OpenChunk(id, sealed, std::move(into)); });
  }
  const ChunkObject delta{id, base};
  try {
    std::string base_plaintext;
    try {
      base_plaintext = ReadBase(delta);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kCorruption) ReportDamagedChunk(base, e.what());
      throw;
    }
    return ReadSealedWith(ChunkName(id, base), [&](std::string_view sealed) {
      return OpenDeltaChunk(delta, sealed, base_plaintext, std::move(into));
    });
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorruption && e.code() != ErrorCode::kNotFound) throw;
    // A whole copy, stored by a backup after the delta or its base was reported damaged.
    try {
      return ReadSealed(ChunkName(id));
    } catch (const Error& whole) {
      if (whole.code() != ErrorCode::kCorruption && whole.code() != ErrorCode::kNotFound) throw;
    }
    throw;
  }
}

std::string Repository::ChunkStorageProblem(const std::string& id, const std::string& base,
                                            const std::unordered_set<std::string>& stored_names) {
  const std::string name = ChunkName(id, base);
  if (stored_names.count(ChunkName(id))) return "";
  if (!stored_names.count(name)) return "object '" + name + "' is missing";
  if (!stored_names.count(ChunkName(base))) {
    return "object '" + name + "' cannot be read: its base object '" + ChunkName(base) + "' is missing";
  }
  return "";
}

std::string Repository::OpenSealed(const std::string& name, std::string_view sealed) const {
  if (name.starts_with(kChunksPrefix)) {
    auto chunk = ParseChunkName(name);
    if (!chunk) throw Error(ErrorCode::kInvalidArgument, "object '" + name + "' is not a chunk object");
    if (chunk->base.empty()) return OpenChunk(chunk->id, sealed);
    return OpenDeltaChunk(*chunk, sealed, ReadBase(*chunk));
  }
  if (name.starts_with(kManifestsPrefix)) return OpenObject(enc_key_, ObjectKind::kManifest, name, sealed);
  if (name == kConfigName) return OpenObject(enc_key_, ObjectKind::kConfig, name, sealed);
  if (name.starts_with(kWalPrefix)) return OpenObject(enc_key_, ObjectKind::kWal, name, sealed);
  if (name.starts_with(kBaseBackupsPrefix)) return OpenObject(enc_key_, ObjectKind::kBaseBackup, name, sealed);
  throw Error(ErrorCode::kInvalidArgument, "object '" + name + "' is not a sealed object");
}

std::string Repository::ReadSealed(const std::string& name) const {
  return ReadSealedWith(name, [&](std::string_view sealed) { return OpenSealed(name, sealed); });
}

std::string Repository::ReadSealedWith(const std::string& name, const Opener& open) const {
  try {
    return open(storage_.Get(name));  // the normal path: one download
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorruption && e.code() != ErrorCode::kNotFound) throw;
    const bool newest_read = e.code() == ErrorCode::kCorruption;
    if (auto plaintext = OpenFirstTrusted(storage_, name, VersionsOf(storage_, name), newest_read, open)) {
      return std::move(*plaintext);
    }
    throw;
  }
}

void Repository::ReportDamagedChunk(const std::string& chunk_id, const std::string& detail) const {
  if (!damage_sink_) return;
  try {
    damage_sink_(chunk_id, detail);
  } catch (const std::exception&) {
    // Best effort: the error the reader throws next is what the user must see.
  }
}

std::string Repository::ManifestName(const std::string& backup_id) {
  return std::string(kManifestsPrefix) + backup_id;
}

void Repository::PutManifest(const Manifest& manifest) const {
  std::string name = ManifestName(manifest.backup_id);
  storage_.Put(name, SealObject(enc_key_, ObjectKind::kManifest, name, ManifestToJson(manifest)));
}

Manifest Repository::GetManifest(const std::string& backup_id) const {
  std::string name = ManifestName(backup_id);
  return ManifestFromJson(ReadSealed(name));
}

std::vector<std::string> Repository::ListManifestIds() const {
  std::vector<std::string> ids;
  storage_.List(kManifestsPrefix, [&](const storage::ObjectInfo& o) {
    ids.push_back(o.name.substr(std::string(kManifestsPrefix).size()));
  });
  return ids;
}

void Repository::PutBaseBackup(const BaseBackupManifest& manifest) const {
  std::string name = kBaseBackupsPrefix + manifest.backup_id;
  storage_.Put(name, SealObject(enc_key_, ObjectKind::kBaseBackup, name, BaseBackupManifestToJson(manifest)));
}

BaseBackupManifest Repository::GetBaseBackup(const std::string& backup_id) const {
  BaseBackupManifest m = BaseBackupManifestFromJson(ReadSealed(kBaseBackupsPrefix + backup_id));
  if (m.backup_id != backup_id) {
    throw Error(ErrorCode::kCorruption, "base backup manifest " + std::string(kBaseBackupsPrefix) + backup_id +
                                            " records another backup (" + m.backup_id + ")");
  }
  return m;
}

std::vector<std::string> Repository::ListBaseBackupIds() const {
  std::vector<std::string> ids;
  storage_.List(kBaseBackupsPrefix, [&](const storage::ObjectInfo& o) {
    ids.push_back(o.name.substr(std::string(kBaseBackupsPrefix).size()));
  });
  return ids;
}

std::vector<std::string> Repository::HiddenManifestIds() const {
  std::vector<std::string> ids;
  std::string previous;
  storage_.ListVersions(kManifestsPrefix, [&](const std::string& name, const storage::ObjectVersion& v) {
    if (name == previous) return;  // only each name's newest version says whether it is hidden
    previous = name;
    if (v.hide_marker) ids.push_back(name.substr(std::string(kManifestsPrefix).size()));
  });
  return ids;
}

std::string Repository::AddKey(const std::string& passphrase, const KdfParams& kdf) const {
  return WriteKey(storage_, master_key_, passphrase, kdf);
}

std::vector<KeyInfo> Repository::ListKeys() const {
  std::vector<KeyInfo> keys;
  storage_.List(kKeysPrefix, [&](const storage::ObjectInfo& o) {
    KeyInfo k;
    k.id = o.name.substr(std::string(kKeysPrefix).size());
    try {
      json j = json::parse(storage_.Get(o.name));
      k.created = j.value("created", "");
      k.host = j.value("host", "");
    } catch (const json::exception&) {
      k.created = "(unreadable)";
    }
    keys.push_back(k);
  });
  return keys;
}

void Repository::RemoveKey(const std::string& id) const {
  auto keys = ListKeys();
  bool found = false;
  for (const auto& k : keys) found = found || k.id == id;
  if (!found) throw Error(ErrorCode::kNotFound, "no key '" + id + "' in the repository");
  if (id == unlocked_key_id_) {
    throw Error(ErrorCode::kInvalidArgument,
                "refusing to remove key '" + id + "': it is the key this passphrase unlocks; unlock with another key to remove it");
  }
  if (keys.size() <= 1) throw Error(ErrorCode::kInvalidArgument, "refusing to remove the last key");
  storage_.Remove(kKeysPrefix + id);
}

}  // namespace dhanbak::format
