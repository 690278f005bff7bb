#include "emulator/store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "emulator/digest.hpp"

namespace dhanbak::emulator {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

[[noreturn]] void ThrowErrno(const std::string &what, const fs::path &path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

void WriteAll(int fd, std::string_view data, const fs::path &path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void SyncDirectory(const fs::path &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Store::Store(fs::path dir) : dir_(std::move(dir)) {}

Store::~Store() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

void Store::WriteFileAtomically(const fs::path &path, std::string_view data) {
  fs::path tmp = path;
  tmp += ".tmp-" + RandomHex(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) ThrowErrno("cannot create", tmp);
  try {
    WriteAll(fd, data, tmp);
    if (::fsync(fd) != 0) ThrowErrno("cannot fsync", tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) ThrowErrno("cannot rename", tmp);
  SyncDirectory(path.parent_path());
}

void Store::Open() {
  fs::create_directories(dir_ / "objects");
  fs::create_directories(dir_ / "parts");
  fs::path journal = dir_ / "index.jsonl";
  if (fs::exists(journal)) {
    std::ifstream in(journal, std::ios::binary);
    std::string line;
    size_t line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (line.empty()) continue;
      json record = json::parse(line, nullptr, false);
      if (record.is_discarded()) {
        // Only the very last line may be torn by a crash during an append.
        if (in.peek() == EOF) break;
        throw std::runtime_error(journal.string() + ":" + std::to_string(line_number) +
                                 ": corrupt journal record");
      }
      Apply(record);
    }
  }
  if (account_id_.empty()) account_id_ = RandomHex(12);
  // Compact: rewrite the journal as a snapshot of the current state.
  std::string text;
  for (const json &record : Snapshot()) text += record.dump() + "\n";
  WriteFileAtomically(journal, text);
  journal_fd_ = ::open(journal.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (journal_fd_ < 0) ThrowErrno("cannot open", journal);
  // Leftovers of interrupted atomic writes.
  for (const auto &entry : fs::directory_iterator(dir_ / "objects")) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(entry.path());
  }
}

std::vector<json> Store::Snapshot() const {
  std::vector<json> records;
  records.push_back({{"op", "account"}, {"id", account_id_}, {"seq", last_seq_}});
  for (const auto &[id, bucket] : buckets_) records.push_back({{"op", "bucket"}, {"bucket", ToJson(bucket)}});
  for (const auto &[id, key] : keys_) {
    if (!key.from_command_line) records.push_back({{"op", "key"}, {"key", ToJson(key)}});
  }
  for (const auto &[id, version] : versions_) {
    records.push_back({{"op", "version"}, {"version", ToJson(version)}});
  }
  return records;
}

void Store::Apply(const json &r) {
  const std::string op = r.at("op");
  if (op == "account") {
    account_id_ = r.at("id");
    last_seq_ = std::max(last_seq_, r.value("seq", uint64_t{0}));
  } else if (op == "bucket") {
    Bucket b = BucketFromJson(r.at("bucket"));
    buckets_[b.id] = b;
  } else if (op == "remove_bucket") {
    buckets_.erase(r.at("id").get<std::string>());
  } else if (op == "key") {
    Key k = KeyFromJson(r.at("key"));
    keys_[k.id] = k;
  } else if (op == "remove_key") {
    keys_.erase(r.at("id").get<std::string>());
  } else if (op == "version") {
    FileVersion v = VersionFromJson(r.at("version"));
    last_seq_ = std::max(last_seq_, v.seq);
    auto it = versions_.find(v.id);
    if (it != versions_.end()) UnindexVersion(it->second);
    versions_[v.id] = v;
    IndexVersion(v);
  } else if (op == "part") {
    auto it = versions_.find(r.at("file_id").get<std::string>());
    if (it != versions_.end()) {
      Part p = PartFromJson(r.at("part"));
      it->second.parts[p.number] = p;
    }
  } else if (op == "remove") {
    auto it = versions_.find(r.at("id").get<std::string>());
    if (it != versions_.end()) {
      UnindexVersion(it->second);
      versions_.erase(it);
    }
  }
}

void Store::Append(const json &record) {
  Apply(record);
  std::string line = record.dump() + "\n";
  WriteAll(journal_fd_, line, dir_ / "index.jsonl");
  if (::fdatasync(journal_fd_) != 0) ThrowErrno("cannot fsync", dir_ / "index.jsonl");
}

void Store::IndexVersion(const FileVersion &v) {
  auto &ids = names_[v.bucket_id][v.name];
  ids.push_back(v.id);
  // Newest first: higher sequence numbers first.
  std::sort(ids.begin(), ids.end(), [this, &v](const std::string &a, const std::string &b) {
    uint64_t sa = a == v.id ? v.seq : versions_.at(a).seq;
    uint64_t sb = b == v.id ? v.seq : versions_.at(b).seq;
    return sa > sb;
  });
}

void Store::UnindexVersion(const FileVersion &v) {
  auto bucket_it = names_.find(v.bucket_id);
  if (bucket_it == names_.end()) return;
  auto name_it = bucket_it->second.find(v.name);
  if (name_it == bucket_it->second.end()) return;
  auto &ids = name_it->second;
  ids.erase(std::remove(ids.begin(), ids.end(), v.id), ids.end());
  if (ids.empty()) bucket_it->second.erase(name_it);
}

const Bucket *Store::FindBucketById(const std::string &id) const {
  auto it = buckets_.find(id);
  return it == buckets_.end() ? nullptr : &it->second;
}

const Bucket *Store::FindBucketByName(const std::string &name) const {
  for (const auto &[id, bucket] : buckets_) {
    if (bucket.name == name) return &bucket;
  }
  return nullptr;
}

std::vector<const Bucket *> Store::Buckets() const {
  std::vector<const Bucket *> out;
  for (const auto &[id, bucket] : buckets_) out.push_back(&bucket);
  std::sort(out.begin(), out.end(), [](auto *a, auto *b) { return a->name < b->name; });
  return out;
}

void Store::PutBucket(const Bucket &bucket) { Append({{"op", "bucket"}, {"bucket", ToJson(bucket)}}); }

void Store::RemoveBucket(const std::string &id) { Append({{"op", "remove_bucket"}, {"id", id}}); }

const Key *Store::FindKey(const std::string &id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

std::vector<const Key *> Store::Keys() const {
  std::vector<const Key *> out;
  for (const auto &[id, key] : keys_) out.push_back(&key);
  return out;
}

void Store::PutKey(const Key &key) {
  if (key.from_command_line) {
    keys_[key.id] = key;
  } else {
    Append({{"op", "key"}, {"key", ToJson(key)}});
  }
}

void Store::RemoveKey(const std::string &id) { Append({{"op", "remove_key"}, {"id", id}}); }

const FileVersion *Store::FindVersion(const std::string &id) const {
  auto it = versions_.find(id);
  return it == versions_.end() ? nullptr : &it->second;
}

void Store::PutVersion(const FileVersion &version) {
  Append({{"op", "version"}, {"version", ToJson(version)}});
}

void Store::PutPart(const std::string &file_id, const Part &part) {
  Append({{"op", "part"}, {"file_id", file_id}, {"part", ToJson(part)}});
}

void Store::RemoveVersion(const std::string &id) {
  Append({{"op", "remove"}, {"id", id}});
  std::error_code ignored;
  fs::remove(ObjectPath(id), ignored);
  fs::remove_all(dir_ / "parts" / id, ignored);
}

const std::map<std::string, std::vector<std::string>> &Store::Names(const std::string &bucket_id) const {
  static const std::map<std::string, std::vector<std::string>> kEmpty;
  auto it = names_.find(bucket_id);
  return it == names_.end() ? kEmpty : it->second;
}

fs::path Store::ObjectPath(const std::string &file_id) const { return dir_ / "objects" / file_id; }

fs::path Store::PartPath(const std::string &file_id, int part_number) const {
  return dir_ / "parts" / file_id / std::to_string(part_number);
}

}  // namespace dhanbak::emulator
