#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/model.hpp"

namespace dhanbak::emulator {

// Everything the emulator keeps across restarts, in DATA-DIR:
//   index.jsonl        journal of metadata records, one JSON object per line, fsync'd per append;
//                      rewritten (atomically) as a compact snapshot at every start
//   objects/<fileId>   bytes of finished files (written to a temp name, fsync'd, renamed)
//   parts/<fileId>/<n> bytes of uploaded parts of unfinished large files
// A torn last journal line (crash mid-append) is ignored on load. Not thread-safe: the caller
// serialises access.
class Store {
 public:
  explicit Store(std::filesystem::path dir);
  ~Store();
  Store(const Store &) = delete;
  Store &operator=(const Store &) = delete;

  void Open();
  const std::string &AccountId() const { return account_id_; }

  const Bucket *FindBucketById(const std::string &id) const;
  const Bucket *FindBucketByName(const std::string &name) const;
  std::vector<const Bucket *> Buckets() const;
  void PutBucket(const Bucket &bucket);
  void RemoveBucket(const std::string &id);

  const Key *FindKey(const std::string &id) const;
  std::vector<const Key *> Keys() const;
  void PutKey(const Key &key);
  void RemoveKey(const std::string &id);

  const FileVersion *FindVersion(const std::string &id) const;
  void PutVersion(const FileVersion &version);
  void PutPart(const std::string &file_id, const Part &part);
  // Forgets the version and deletes its bytes (object or parts).
  void RemoveVersion(const std::string &id);
  // name -> version ids, newest first, for one bucket.
  const std::map<std::string, std::vector<std::string>> &Names(const std::string &bucket_id) const;
  uint64_t NextSeq() { return ++last_seq_; }

  std::filesystem::path ObjectPath(const std::string &file_id) const;
  std::filesystem::path PartPath(const std::string &file_id, int part_number) const;
  static void WriteFileAtomically(const std::filesystem::path &path, std::string_view data);

 private:
  void Apply(const nlohmann::json &record);
  void Append(const nlohmann::json &record);
  void IndexVersion(const FileVersion &version);
  void UnindexVersion(const FileVersion &version);
  std::vector<nlohmann::json> Snapshot() const;

  std::filesystem::path dir_;
  int journal_fd_ = -1;
  std::string account_id_;
  uint64_t last_seq_ = 0;
  std::map<std::string, Bucket> buckets_;  // by id
  std::map<std::string, Key> keys_;        // by id
  std::map<std::string, FileVersion> versions_;  // by id
  std::map<std::string, std::map<std::string, std::vector<std::string>>> names_;  // bucket -> name -> ids
};

}  // namespace dhanbak::emulator
