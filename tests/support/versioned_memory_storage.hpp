// VersionedMemoryStorage — an in-memory Storage that keeps versions as B2 does: Put adds a
// version, Hide adds a hide marker (what anyone holding a key with writeFiles can do), readers by
// name see the newest version unless it is a marker. Fast unit tests of the repository's version
// handling use it; the conformance suite keeps it honest. Counts ListVersions calls, so tests can
// check that the normal read path never lists versions.
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "dhanbak/error.hpp"
#include "dhanbak/storage/storage.hpp"

namespace dhanbak::test {

class VersionedMemoryStorage : public storage::Storage {
 public:
  void Put(const std::string& name, std::string_view data) override { Add(name, std::string(data), false); }

  std::string Get(const std::string& name, std::optional<storage::ByteRange> range = std::nullopt) override {
    std::string data;
    {
      std::lock_guard lock(mu_);
      const Version* v = NewestLocked(name);
      if (!v) throw Error(ErrorCode::kNotFound, "object '" + name + "' not found in " + Describe());
      data = v->data;
    }
    if (!range) return data;
    if (range->offset >= data.size() && !(range->offset == 0 && data.empty())) {
      throw Error(ErrorCode::kInvalidArgument, "range starts past the end of object '" + name + "'");
    }
    return data.substr(range->offset, range->length);
  }

  std::optional<storage::ObjectInfo> Stat(const std::string& name) override {
    std::lock_guard lock(mu_);
    const Version* v = NewestLocked(name);
    if (!v) return std::nullopt;
    return storage::ObjectInfo{name, v->data.size(), 0};
  }

  void List(const std::string& prefix, const std::function<void(const storage::ObjectInfo&)>& fn) override {
    std::vector<storage::ObjectInfo> found;
    {
      std::lock_guard lock(mu_);
      for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
        if (const Version* v = NewestLocked(it->first)) found.push_back({it->first, v->data.size(), 0});
      }
    }
    for (const auto& o : found) fn(o);
  }

  void Remove(const std::string& name) override {
    std::lock_guard lock(mu_);
    objects_.erase(name);
  }

  void ListVersions(const std::string& prefix,
                    const std::function<void(const std::string& name, const storage::ObjectVersion&)>& fn) override {
    ++list_versions_calls_;
    std::vector<std::pair<std::string, storage::ObjectVersion>> found;
    {
      std::lock_guard lock(mu_);
      for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
        for (const Version& v : it->second) found.push_back({it->first, {v.id, v.data.size(), 0, v.hide_marker}});
      }
    }
    for (const auto& [name, v] : found) fn(name, v);
  }

  std::string GetVersion(const std::string& name, const std::string& version_id) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(name);
    if (it != objects_.end()) {
      for (const Version& v : it->second) {
        if (v.id == version_id && !v.hide_marker) return v.data;
      }
    }
    throw Error(ErrorCode::kNotFound, "version '" + version_id + "' of object '" + name + "' not found");
  }

  std::string Describe() const override { return "memory://versioned"; }

  // Hides `name` behind a new hide marker; returns the marker's id.
  std::string Hide(const std::string& name) { return Add(name, "", true); }
  // The id of the newest version of `name` (a hide marker too), "" when there is none.
  std::string NewestId(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = objects_.find(name);
    return it == objects_.end() || it->second.empty() ? "" : it->second.front().id;
  }
  int list_versions_calls() const { return list_versions_calls_; }

 private:
  struct Version {
    std::string id;
    std::string data;
    bool hide_marker = false;
  };

  std::string Add(const std::string& name, std::string data, bool hide_marker) {
    std::lock_guard lock(mu_);
    std::string id = "v" + std::to_string(++next_id_);
    auto& versions = objects_[name];
    versions.insert(versions.begin(), Version{id, std::move(data), hide_marker});
    return id;
  }

  const Version* NewestLocked(const std::string& name) const {
    auto it = objects_.find(name);
    if (it == objects_.end() || it->second.empty() || it->second.front().hide_marker) return nullptr;
    return &it->second.front();
  }

  std::mutex mu_;
  std::map<std::string, std::vector<Version>> objects_;  // each name's versions newest first
  uint64_t next_id_ = 0;
  std::atomic<int> list_versions_calls_{0};
};

}  // namespace dhanbak::test
