#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "emulator/faults.hpp"

namespace dhanbak::emulator {

// What an upload token is bound to: one upload URL (url_id) for a bucket, or for one large file.
struct UploadGrant {
  std::string key_id;
  std::string bucket_id;
  std::string file_id;  // set for part-upload tokens
  std::string url_id;
};

// Authorization tokens live in memory only. Each process run has its own epoch, embedded in
// every token, so a token from before a restart is reported as expired (clients re-authorize)
// rather than as garbage.
class TokenRegistry {
 public:
  TokenRegistry();
  void SetExpiry(TokenExpiry expiry);
  TokenExpiry Expiry() const;

  std::string IssueAccount(const std::string &key_id);
  std::string IssueUpload(UploadGrant grant);
  // Both throw ApiError 401 (missing/bad/expired) and count one use of the token.
  std::string CheckAccount(const std::string &token);  // returns the key id
  UploadGrant CheckUpload(const std::string &token, const std::string &url_id);
  // One upload at a time per upload URL/token: Acquire throws 400 auth_token_limit when busy.
  void AcquireUpload(const std::string &token);
  void ReleaseUpload(const std::string &token);
  void Expire(const std::string &token);
  void ForgetKey(const std::string &key_id);

 private:
  struct Entry {
    bool upload = false;
    UploadGrant grant;  // key_id is used for account tokens too
    int64_t issued_ms = 0;
    uint64_t uses = 0;
    bool expired = false;
    bool busy = false;
  };
  Entry &Check(const std::string &token);

  mutable std::mutex mutex_;
  std::string epoch_;
  TokenExpiry expiry_;
  std::map<std::string, Entry> tokens_;
};

}  // namespace dhanbak::emulator
