// LocalStorage — a repository in a local directory (`file:///path`), the embedded default.
//
// Put writes `<dir>/.tmp-<random>`, fsyncs it, renames it over the final name and fsyncs the
// directory, so a crash never leaves a partial object under a real name; stale temp files are
// invisible to List and Stat. Object names map to relative paths; names that would escape the
// root ("..", absolute, empty segments) are refused. A directory keeps no versions: every
// object has exactly one, whose id is kCurrentVersion. The root directory must exist (init creates
// it): Put never recreates a root that vanished.
#pragma once

#include <string>

#include "dhanbak/storage/storage.hpp"

namespace dhanbak::storage {

class LocalStorage : public Storage {
 public:
  static constexpr const char* kCurrentVersion = "current";

  explicit LocalStorage(std::string root_dir);

  void Put(const std::string& name, std::string_view data) override;
  std::string Get(const std::string& name, std::optional<ByteRange> range) override;
  std::optional<ObjectInfo> Stat(const std::string& name) override;
  void List(const std::string& prefix, const std::function<void(const ObjectInfo&)>& fn) override;
  void Remove(const std::string& name) override;
  void ListVersions(const std::string& prefix,
                    const std::function<void(const std::string& name, const ObjectVersion&)>& fn) override;
  std::string GetVersion(const std::string& name, const std::string& version_id) override;
  std::string Describe() const override { return "file://" + root_; }

 private:
  void MakeParents(const std::string& name) const;
  std::string PathOf(const std::string& name) const;
  std::string root_;
};

}  // namespace dhanbak::storage
