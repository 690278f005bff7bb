// Storage — the one seam between dhanbak and where objects live (local directory, Backblaze B2).
//
// Objects are immutable byte strings addressed by a name made of '/'-separated segments of
// [A-Za-z0-9._-] (dhanbak only ever writes such names; backends must still cope with others).
// Every backend passes tests/conformance/storage_suite.hpp.
//
// Contract, for every implementation:
//  - Put is atomic: a reader sees either no object or the whole object, never a prefix. A Put of
//    an existing name replaces it (dhanbak only does that with the same content: identical bytes,
//    or a damaged chunk sealed again); readers then get the new object (on B2: the newest version).
//  - Get of a missing object throws Error(kNotFound). A range past the end throws
//    Error(kInvalidArgument); a range that overlaps the end is clipped.
//  - Stat of a missing object returns std::nullopt (a missing object is a value, not an error).
//  - List calls `fn` once per object whose name starts with `prefix`, in name order.
//  - Remove deletes every version of the object; removing a missing object succeeds.
//  - ListVersions calls `fn` once per stored version of every object whose name starts with
//    `prefix`: names in name order, each name's versions newest first, hide markers included (a
//    backend without versions lists one version per object). Get, Stat and List see only the
//    newest version, and nothing of a name whose newest version is a hide marker.
//  - GetVersion returns one listed version's bytes even when the name is hidden or newer versions
//    exist; an unknown version (or a hide marker) throws Error(kNotFound).
//  - Transient failures throw retryable errors (kNetwork / kService) after the backend's own
//    retries are exhausted; permanent ones throw kPermanent / kAuth / kNotFound.
// Thread-safety: all methods may be called concurrently from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dhanbak/error.hpp"

namespace dhanbak::storage {

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
  int64_t modified_unix = 0;  // when the object was stored, seconds since the epoch; 0 if unknown
};

// Remove met a version still under Object Lock retention. Thrown after every version that could
// be deleted was; prune skips such objects until their retention ends. Retrying before
// `retain_until_ms` cannot succeed, hence kPermanent.
class ObjectLockedError : public Error {
 public:
  ObjectLockedError(std::string name, int64_t retain_until_ms, const std::string& message)
      : Error(ErrorCode::kPermanent, message), name_(std::move(name)), retain_until_ms_(retain_until_ms) {}

  const std::string& name() const { return name_; }
  // Milliseconds since the epoch; 0 when the service did not say.
  int64_t retain_until_ms() const { return retain_until_ms_; }

 private:
  std::string name_;
  int64_t retain_until_ms_;
};

// One stored version of an object (ListVersions).
struct ObjectVersion {
  std::string id;             // backend version id (B2 fileId); local storage: "current"
  uint64_t size = 0;
  int64_t modified_unix = 0;  // when this version was stored, seconds since the epoch; 0 if unknown
  bool hide_marker = false;   // a B2 hide marker: the name is hidden from Get/Stat/List
};

// A byte range [offset, offset + length) of an object.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual void Put(const std::string& name, std::string_view data) = 0;
  virtual std::string Get(const std::string& name, std::optional<ByteRange> range = std::nullopt) = 0;
  virtual std::optional<ObjectInfo> Stat(const std::string& name) = 0;
  virtual void List(const std::string& prefix, const std::function<void(const ObjectInfo&)>& fn) = 0;
  virtual void Remove(const std::string& name) = 0;

  // Every version of every object whose name starts with `prefix`: names in order, each name's
  // versions newest first, hide markers included. Someone with write access can add versions
  // dhanbak did not write; readers use these two to find the version dhanbak wrote.
  virtual void ListVersions(const std::string& prefix,
                            const std::function<void(const std::string& name, const ObjectVersion&)>& fn) = 0;
  // One version's bytes, even when the name is hidden or newer versions exist.
  virtual std::string GetVersion(const std::string& name, const std::string& version_id) = 0;

  // A human-readable location without credentials, e.g. "file:///var/backups/dhanbak".
  virtual std::string Describe() const = 0;
};

}  // namespace dhanbak::storage
