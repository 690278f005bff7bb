#include "format/repository.hpp"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

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
  auto sealed_config = storage.Stat(kConfigName);
  if (!sealed_config) {
    throw Error(ErrorCode::kNotFound, "no dhanbak repository at " + storage.Describe() +
                                          " (create one with 'dhanbak init')");
  }
  std::vector<std::string> key_names;
  storage.List(kKeysPrefix, [&](const storage::ObjectInfo& o) { key_names.push_back(o.name); });
  if (key_names.empty()) {
    throw Error(ErrorCode::kCorruption, "repository at " + storage.Describe() + " has no keys");
  }
  std::string master, key_id;
  for (const auto& name : key_names) {
    json j;
    std::string id = name.substr(std::string(kKeysPrefix).size());
    uint64_t n = 0, r = 0, p = 0;
    int key_format = 0;
    std::string salt_b64;
    try {
      j = json::parse(storage.Get(name));
      if (j.at("kdf").get<std::string>() != "scrypt") continue;
      key_format = j.at("format").get<int>();
      n = j.at("n").get<uint64_t>();
      r = j.at("r").get<uint64_t>();
      p = j.at("p").get<uint64_t>();
      salt_b64 = j.at("salt").get<std::string>();
    } catch (const json::exception&) {
      continue;  // an unreadable key file cannot unlock anything; others may
    }
    // A planted key with an enormous cost must not make the repository impossible to open.
    if (auto problem = KdfParamsProblem(n, r, p)) {
      log::Warning("ignoring key " + id + ": its scrypt parameters are out of bounds (" + *problem + ")");
      continue;
    }
    if (key_format != 1 && key_format != 2) continue;
    std::string wrapping = crypto::Scrypt(passphrase, Base64Decode(salt_b64), n, r, p, crypto::kKeySize);
    std::string aad = key_format == 1 ? KeyAad(id) : KeyAadV2(id, n, r, p, salt_b64);
    try {
      master = crypto::AesGcmOpen(wrapping, Base64Decode(j.at("nonce").get<std::string>()), aad,
                                  Base64Decode(j.at("wrapped_master_key").get<std::string>()));
      key_id = id;
      break;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorruption) throw;
    }
  }
  if (master.empty()) {
    throw Error(ErrorCode::kAuth, "wrong passphrase: no key of the repository at " +
                                      storage.Describe() + " accepts it");
  }
  std::unique_ptr<Repository> repo(new Repository(storage, master, key_id));
  json config;
  try {
    config = json::parse(OpenObject(repo->enc_key_, ObjectKind::kConfig, kConfigName, storage.Get(kConfigName)));
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

std::string Repository::ChunkName(const std::string& id) {
  return std::string(kChunksPrefix) + id.substr(0, 2) + "/" + id;
}

std::string Repository::SealChunk(const std::string& id, std::string_view plaintext) const {
  return SealObject(enc_key_, ObjectKind::kChunk, ChunkName(id), plaintext);
}

std::string Repository::OpenChunk(const std::string& id, std::string_view sealed) const {
  std::string name = ChunkName(id);
  std::string plaintext = OpenObject(enc_key_, ObjectKind::kChunk, name, sealed);
  if (ChunkId(plaintext) != id) {
    throw Error(ErrorCode::kCorruption, "object '" + name + "' is corrupted: content does not match its id");
  }
  return plaintext;
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
  return ManifestFromJson(OpenObject(enc_key_, ObjectKind::kManifest, name, storage_.Get(name)));
}

std::vector<std::string> Repository::ListManifestIds() const {
  std::vector<std::string> ids;
  storage_.List(kManifestsPrefix, [&](const storage::ObjectInfo& o) {
    ids.push_back(o.name.substr(std::string(kManifestsPrefix).size()));
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
