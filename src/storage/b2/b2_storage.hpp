// B2Storage — the Storage seam over the Backblaze B2 native API (API v3), via libcurl.
//
// Objects live under `PREFIX/NAME` in the bucket of `b2://BUCKET/PREFIX`. Uploads carry
// X-Bz-Content-Sha1; whole-object downloads are checked against the stored SHA-1. Objects larger
// than the part size (recommendedPartSize from authorization unless overridden) go through the
// large-file API and resume a matching unfinished large file left by a crash. Every request
// follows B2's integration checklist (retry_policy.hpp); an operation gives up after
// `retry_max_time` with a retryable Error summarising its attempts.
//
// Put of an existing name uploads a new version (B2 keeps versions); Remove deletes them all.
// ListVersions is b2_list_file_versions (hide markers included, unfinished large files left
// out); GetVersion is b2_download_file_by_id, checked against the stored SHA-1 like Get.
// With object_lock_days > 0 every upload is retained in governance mode for that many days,
// and Remove throws ObjectLockedError (object_locked_error.hpp) for versions still retained.
//
// Thread-safe: every method may be called from many threads; at most `connections` transfers
// run at once, each thread holding one upload URL at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "dhanbak/config.hpp"
#include "dhanbak/storage/storage.hpp"

namespace dhanbak::storage {

namespace b2 {
class HttpClient;
class AuthSession;
class ApiClient;
class UploadUrlPool;
class RetryState;
struct AccountAuth;
struct HttpResponse;
}  // namespace b2

// Knobs that are not user configuration; tests shrink them.
struct B2Options {
  int list_page_size = 1000;   // maxFileCount of b2_list_file_names/_versions (1..10000)
  uint64_t part_size = 0;      // large-file part size and threshold; 0 = recommendedPartSize,
                               // never below absoluteMinimumPartSize
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{64000};
  // Overrides B2Config::retry_max_time when set (tests need sub-second budgets).
  std::optional<std::chrono::milliseconds> retry_max_time;
  // B2's SHA-1 covers whole objects only, so a ranged download cannot be checked. When set, a
  // ranged Get downloads the whole object, checks it and cuts the range out: for callers that
  // need checked bytes more than saved bandwidth (and the corrupted-download fault tests).
  bool verify_ranged_gets = false;
};

class B2Storage : public Storage {
 public:
  // Resolves the key references (throws Error(kConfig) naming the reference, never the value)
  // and checks the url and api_url; no network traffic until the first operation.
  B2Storage(const std::string& url, const B2Config& config, B2Options options = {});
  ~B2Storage() override;

  void Put(const std::string& name, std::string_view data) override;
  std::string Get(const std::string& name, std::optional<ByteRange> range = std::nullopt) override;
  std::optional<ObjectInfo> Stat(const std::string& name) override;
  void List(const std::string& prefix, const std::function<void(const ObjectInfo&)>& fn) override;
  void Remove(const std::string& name) override;
  void ListVersions(const std::string& prefix,
                    const std::function<void(const std::string& name, const ObjectVersion&)>& fn) override;
  std::string GetVersion(const std::string& name, const std::string& version_id) override;
  std::string Describe() const override;

  // Successful b2_authorize_account calls so far (tests check single-flight re-authorization).
  uint64_t authorizations() const;

 private:
  std::string FullName(const std::string& name) const;
  std::string BucketId(b2::RetryState& retry);
  b2::RetryState NewRetry(const std::string& what) const;
  void PutSmall(const std::string& full, std::string_view data, const std::string& sha1, b2::RetryState& retry);
  void PutLarge(const std::string& full, std::string_view data, const std::string& sha1, b2::RetryState& retry);
  std::string GetWithRetry(const std::string& name, const std::string& full, std::optional<ByteRange> range);
  // One download (by name or by id: `url_of` builds the URL from the current authorization),
  // retried; a whole body is checked against its SHA-1, a ranged one for its length.
  b2::HttpResponse Download(b2::RetryState& retry, const std::function<std::string(const b2::AccountAuth&)>& url_of,
                            std::optional<ByteRange> range);
  // Pages through b2_list_file_versions of the bucket names starting with `full_prefix`, from
  // the first; `fn` gets each file object and returns false to stop.
  void ForEachFileVersion(const std::string& full_prefix, const std::string& what,
                          const std::function<bool(const nlohmann::json& file)>& fn);
  std::string RetentionUntilMs() const;

  std::string bucket_;
  std::string prefix_;  // without trailing '/'
  B2Config config_;
  B2Options options_;
  std::unique_ptr<b2::HttpClient> http_;
  std::unique_ptr<b2::AuthSession> session_;
  std::unique_ptr<b2::ApiClient> api_;
  std::unique_ptr<b2::UploadUrlPool> upload_urls_;
  std::mutex bucket_mu_;
  std::string bucket_id_;
};

}  // namespace dhanbak::storage
