// ObjectLockedError — Remove met a version still under Object Lock retention.
//
// Thrown by B2Storage::Remove after it has deleted every version it could; prune catches this
// type (`catch (const storage::ObjectLockedError&)`) and skips the object until its retention
// ends. It is an Error(kPermanent): retrying before `retain_until_ms` cannot succeed.
// (It lives here until the storage seam grows a home for it; see docs/b2-setup.md.)
#pragma once

#include <cstdint>
#include <string>

#include "dhanbak/error.hpp"

namespace dhanbak::storage {

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

}  // namespace dhanbak::storage
