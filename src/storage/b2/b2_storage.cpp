
#include "storage/b2/b2_storage.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

#include "dhanbak/error.hpp"
#include "storage/b2/api_client.hpp"
#include "storage/b2/auth_session.hpp"
#include "storage/b2/b2_url.hpp"
#include "storage/b2/http_client.hpp"
#include "storage/b2/json_fields.hpp"
#include "storage/b2/name_encoding.hpp"
#include "dhanbak/storage/storage.hpp"
#include "storage/b2/retry_policy.hpp"
#include "storage/b2/sha1.hpp"
#include "storage/b2/upload_url_pool.hpp"

namespace dhanbak::storage {

using b2::HttpRequest;
using b2::HttpResponse;
using b2::RetryState;
using nlohmann::json;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The expected whole-object SHA-1 of a download, or "" when B2 has none we can check.
std::string ExpectedSha1(const HttpResponse& response) {
  std::string sha1 = response.Header("X-Bz-Content-Sha1");
  if (sha1.empty() || sha1 == "none") sha1 = response.Header("X-Bz-Info-large_file_sha1");
  // "unverified:<hex>" marks a do_not_verify upload: nothing trustworthy to compare with.
  if (sha1.size() != 40) return "";
  return sha1;
}

}  // namespace

B2Storage::B2Storage(const std::string& url, const B2Config& config, B2Options options)
    : config_(config), options_(options) {
  b2::B2Location location = b2::ParseB2Url(url);
  bucket_ = location.bucket;
  prefix_ = location.prefix;
  b2::CheckTransportAllowed(config.api_url);
  if (config.key_id.empty() || config.application_key.empty()) {
    throw Error(ErrorCode::kConfig, "a b2:// repository needs [b2] key_id and application_key");
  }
  if (options_.list_page_size < 1 || options_.list_page_size > 10000) {
    throw Error(ErrorCode::kInvalidArgument, "b2 list page size must be 1..10000");
  }
  b2::HttpSettings settings;
  settings.stall_timeout = config.stall_timeout;
  settings.max_connections = config.connections;
  settings.max_upload_rate = config.max_upload_rate;
  settings.max_download_rate = config.max_download_rate;
  http_ = std::make_unique<b2::HttpClient>(settings);
  // One after the other, in the configuration's order: as two arguments of one call their order
  // is the compiler's, and so was which missing secret file the error named.
  std::string key_id = config.key_id.Resolve();
  std::string application_key = config.application_key.Resolve();
  session_ = std::make_unique<b2::AuthSession>(*http_, config.api_url, std::move(key_id), std::move(application_key));
  api_ = std::make_unique<b2::ApiClient>(*http_, *session_);
  upload_urls_ = std::make_unique<b2::UploadUrlPool>(static_cast<size_t>(std::max(1, config.connections)) * 2);
}

B2Storage::~B2Storage() = default;

std::string B2Storage::Describe() const {
  return "b2://" + bucket_ + (prefix_.empty() ? "" : "/" + prefix_);
}

uint64_t B2Storage::authorizations() const { return session_->authorizations(); }

RetryState B2Storage::NewRetry(const std::string& what) const {
  b2::BackoffPolicy policy;
  policy.initial = options_.initial_backoff;
  policy.max_delay = options_.max_backoff;
  policy.max_time = options_.retry_max_time.value_or(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.retry_max_time));
  return RetryState(what, policy);
}

std::string B2Storage::FullName(const std::string& name) const {
  std::string full = prefix_.empty() ? name : prefix_ + "/" + name;
  std::string reason = b2::InvalidNameReason(full);
  if (name.empty() || !reason.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid object name '" + name + "' for b2: " + (reason.empty() ? "name is empty" : reason));
  }
  return full;
}

std::string B2Storage::BucketId(RetryState& retry) {
  std::lock_guard lock(bucket_mu_);
  if (!bucket_id_.empty()) return bucket_id_;
  auto auth = session_->Get(retry);
  // A bucket-restricted key names its bucket in the authorization: no list call needed.
  if (auth->allowed_bucket_name == bucket_ && !auth->allowed_bucket_id.empty()) {
    bucket_id_ = auth->allowed_bucket_id;
    return bucket_id_;
  }
  json reply = api_->Call("b2_list_buckets", {{"accountId", auth->account_id}, {"bucketName", bucket_}}, retry);
  for (const auto& bucket : reply.value("buckets", json::array())) {
    if (JsonString(bucket, "bucketName") == bucket_) bucket_id_ = JsonString(bucket, "bucketId");
  }
  if (bucket_id_.empty()) {
    throw Error(ErrorCode::kConfig, "b2 bucket '" + bucket_ + "' does not exist or the key cannot see it");
  }
  return bucket_id_;
}

std::string B2Storage::RetentionUntilMs() const {
  return std::to_string(NowMs() + int64_t{config_.object_lock_days} * 24 * 3600 * 1000);
}

void B2Storage::Put(const std::string& name, std::string_view data) {
  std::string full = FullName(name);
  RetryState retry = NewRetry("put '" + name + "'");
  std::string sha1 = b2::Sha1Hex(data);
  uint64_t part_size = options_.part_size;
  auto auth = session_->Get(retry);
  if (part_size == 0) part_size = auth->recommended_part_size;
  part_size = std::max(part_size, auth->absolute_minimum_part_size);
  if (data.size() > part_size) {
    PutLarge(full, data, sha1, retry);
  } else {
    PutSmall(full, data, sha1, retry);
  }
}

void B2Storage::PutSmall(const std::string& full, std::string_view data, const std::string& sha1,
                         RetryState& retry) {
  std::optional<b2::UploadTarget> target;
  HttpResponse response = api_->Run(
      retry, b2::TokenKind::kUpload,
      [&](const b2::AccountAuth&) {
        if (!target) target = upload_urls_->Take();
        if (!target) {
          json reply = api_->Call("b2_get_upload_url", {{"bucketId", BucketId(retry)}}, retry);
          target = b2::UploadTarget{JsonString(reply, "uploadUrl"), JsonString(reply, "authorizationToken")};
        }
        HttpRequest request;
        request.method = "POST";
        request.url = target->url;
        request.headers = {"Authorization: " + target->token,
                           "X-Bz-File-Name: " + b2::PercentEncodeName(full),
                           "Content-Type: application/octet-stream",
                           "X-Bz-Content-Sha1: " + sha1};
        // Run locks are rewritten and removed by design: retaining them would only stop prune.
        if (config_.object_lock_days > 0 && full.compare(prefix_.empty() ? 0 : prefix_.size() + 1, 6, "locks/") != 0) {
          request.headers.push_back("X-Bz-File-Retention-Mode: governance");
          request.headers.push_back("X-Bz-File-Retention-Retain-Until-Timestamp: " + RetentionUntilMs());
        }
        request.body = data;
        return http_->Perform(request);
      },
      // Any failure may leave the URL busy or dead on the server side: never reuse it.
      [&] { target.reset(); });
  if (response.status != 200) throw b2::ErrorFromResponse(retry.what(), response);
  if (target) upload_urls_->Return(std::move(*target));
}

std::string B2Storage::Get(const std::string& name, std::optional<ByteRange> range) {
  std::string full = FullName(name);
  if (range && range->length == 0) {
    // HTTP cannot express an empty range; answer from Stat with the same rules.
    auto info = Stat(name);
    if (!info) throw Error(ErrorCode::kNotFound, "object '" + name + "' not found in " + Describe());
    if (range->offset >= info->size && !(range->offset == 0 && info->size == 0)) {
      throw Error(ErrorCode::kInvalidArgument, "range starts past the end of object '" + name + "'");
    }
    return "";
  }
  if (range && options_.verify_ranged_gets) {
    std::string whole = GetWithRetry(name, full, std::nullopt);
    if (range->offset >= whole.size() && !(range->offset == 0 && whole.empty())) {
      throw Error(ErrorCode::kInvalidArgument, "range starts past the end of object '" + name + "'");
    }
    return whole.substr(range->offset, range->length);
  }
  return GetWithRetry(name, full, range);
}

std::string B2Storage::GetWithRetry(const std::string& name, const std::string& full,
                                    std::optional<ByteRange> range) {
  RetryState retry = NewRetry("get '" + name + "'");
  HttpResponse response = Download(
      retry,
      [&](const b2::AccountAuth& auth) {
        return auth.download_url + "/file/" + b2::PercentEncodeName(bucket_) + "/" + b2::PercentEncodeName(full);
      },
      range);
  if (response.status == 200 || response.status == 206) {
    if (response.status == 200 && range) {
      // The server sent everything: clip here with the interface's rules.
      if (range->offset >= response.body.size() && !(range->offset == 0 && response.body.empty())) {
        throw Error(ErrorCode::kInvalidArgument, "range starts past the end of object '" + name + "'");
      }
      return response.body.substr(range->offset, range->length);
    }
    return std::move(response.body);
  }
  if (response.status == 404) throw Error(ErrorCode::kNotFound, "object '" + name + "' not found in " + Describe());
  if (response.status == 416) {
    // B2 refuses any range of an empty object; the interface allows offset 0 there.
    if (range && range->offset == 0) {
      auto info = Stat(name);
      if (info && info->size == 0) return "";
    }
    throw Error(ErrorCode::kInvalidArgument, "range starts past the end of object '" + name + "'");
  }
  throw b2::ErrorFromResponse(retry.what(), response);
}

HttpResponse B2Storage::Download(RetryState& retry, const std::function<std::string(const b2::AccountAuth&)>& url_of,
                                std::optional<ByteRange> range) {
  return api_->Run(retry, b2::TokenKind::kAccount, [&](const b2::AccountAuth& auth) {
    HttpRequest request;
    request.url = url_of(auth);
    request.headers = {"Authorization: " + auth.token};
    if (range) {
      request.headers.push_back("Range: bytes=" + std::to_string(range->offset) + "-" +
                                std::to_string(range->offset + range->length - 1));
    }
    HttpResponse r = http_->Perform(request);
    if (r.status == 200) {
      // A whole-object body (also when a server ignores Range): check it end to end.
      std::string expected = ExpectedSha1(r);
      if (!expected.empty() && b2::Sha1Hex(r.body) != expected) {
        throw Error(ErrorCode::kCorruption, "downloaded bytes do not match the stored sha1");
      }
    } else if (r.status == 206) {
      uint64_t want = range->length;
      std::string content_range = r.Header("Content-Range");  // "bytes a-b/total"
      auto slash = content_range.rfind('/');
      if (slash != std::string::npos) {
        uint64_t total = std::strtoull(content_range.c_str() + slash + 1, nullptr, 10);
        if (total > range->offset) want = std::min(want, total - range->offset);
      }
      if (r.body.size() != want) throw Error(ErrorCode::kNetwork, "ranged download returned a short body");
    }
    return r;
  });
}

std::string B2Storage::GetVersion(const std::string& name, const std::string& version_id) {
  std::string full = FullName(name);
  const std::string missing = "version '" + version_id + "' of object '" + name + "' not found in " + Describe();
  if (version_id.empty()) throw Error(ErrorCode::kNotFound, missing);
  RetryState retry = NewRetry("get version '" + version_id + "' of '" + name + "'");
  HttpResponse response = Download(
      retry,
      [&](const b2::AccountAuth& auth) {
        return auth.download_url + "/b2api/" + b2::kApiVersion +
               "/b2_download_file_by_id?fileId=" + b2::PercentEncodeName(version_id);
      },
      std::nullopt);
  if (response.status == 200) {
    // A file id names one version of one name: another name's bytes are not this object's.
    if (b2::PercentDecode(response.Header("X-Bz-File-Name")) != full) throw Error(ErrorCode::kNotFound, missing);
    return std::move(response.body);
  }
  // B2 answers an unknown id with 404, a malformed one with 400 bad_request.
  if (response.status == 404 || (response.status == 400 && b2::ParseB2Error(response).code == "bad_request")) {
    throw Error(ErrorCode::kNotFound, missing);
  }
  throw b2::ErrorFromResponse(retry.what(), response);
}

std::optional<ObjectInfo> B2Storage::Stat(const std::string& name) {
  std::string full = FullName(name);
  RetryState retry = NewRetry("stat '" + name + "'");
  json reply = api_->Call("b2_list_file_names",
                          {{"bucketId", BucketId(retry)}, {"startFileName", full}, {"prefix", full}, {"maxFileCount", 1}},
                          retry);
  for (const auto& file : reply.value("files", json::array())) {
    if (JsonString(file, "fileName") == full && JsonString(file, "action") == "upload") {
      return ObjectInfo{name, file.value("contentLength", uint64_t{0}), file.value("uploadTimestamp", int64_t{0}) / 1000};
    }
  }
  return std::nullopt;
}

void B2Storage::List(const std::string& prefix, const std::function<void(const ObjectInfo&)>& fn) {
  const std::string base = prefix_.empty() ? "" : prefix_ + "/";
  const std::string full_prefix = base + prefix;
  std::optional<std::string> start;
  for (;;) {
    RetryState retry = NewRetry("list '" + prefix + "'");
    json request = {{"bucketId", BucketId(retry)}, {"maxFileCount", options_.list_page_size}};
    if (!full_prefix.empty()) request["prefix"] = full_prefix;
    if (start) request["startFileName"] = *start;
    json reply = api_->Call("b2_list_file_names", request, retry);
    for (const auto& file : reply.value("files", json::array())) {
      std::string file_name = JsonString(file, "fileName");
      if (JsonString(file, "action") != "upload" || file_name.compare(0, full_prefix.size(), full_prefix) != 0) {
        continue;
      }
      fn(ObjectInfo{file_name.substr(base.size()), file.value("contentLength", uint64_t{0}),
                    file.value("uploadTimestamp", int64_t{0}) / 1000});
    }
    auto next = reply.find("nextFileName");
    if (next == reply.end() || !next->is_string()) return;
    start = next->get<std::string>();
  }
}

void B2Storage::ForEachFileVersion(const std::string& full_prefix, const std::string& what,
                                   const std::function<bool(const json& file)>& fn) {
  std::optional<std::string> start_name, start_id;
  for (;;) {
    RetryState retry = NewRetry(what);
    json request = {{"bucketId", BucketId(retry)}, {"maxFileCount", options_.list_page_size}};
    if (!full_prefix.empty()) request["prefix"] = full_prefix;
    if (start_name) request["startFileName"] = *start_name;
    if (start_id) request["startFileId"] = *start_id;
    json reply = api_->Call("b2_list_file_versions", request, retry);
    for (const auto& file : reply.value("files", json::array())) {
      if (!fn(file)) return;
    }
    // The cursor is the next version (name and id); a null name is the end of the listing.
    start_name = JsonString(reply, "nextFileName");
    if (start_name->empty()) return;
    start_id = JsonString(reply, "nextFileId");
    if (start_id->empty()) start_id.reset();
  }
}

void B2Storage::ListVersions(const std::string& prefix,
                             const std::function<void(const std::string& name, const ObjectVersion&)>& fn) {
  const std::string base = prefix_.empty() ? "" : prefix_ + "/";
  const std::string full_prefix = base + prefix;
  ForEachFileVersion(full_prefix, "list versions '" + prefix + "'", [&](const json& file) {
    std::string action = JsonString(file, "action");
    std::string file_name = JsonString(file, "fileName");
    // An unfinished large file ("start") has no bytes to read and is no version of the object.
    if ((action != "upload" && action != "hide") || !file_name.starts_with(full_prefix)) return true;
    fn(file_name.substr(base.size()),
       ObjectVersion{JsonString(file, "fileId"), file.value("contentLength", uint64_t{0}),
                     file.value("uploadTimestamp", int64_t{0}) / 1000, action == "hide"});
    return true;
  });
}

void B2Storage::Remove(const std::string& name) {
  std::string full = FullName(name);
  // Collect every version first (uploads, hide markers, unfinished large files), then delete.
  struct Version {
    std::string id;
    int64_t retain_until_ms = 0;
  };
  std::vector<Version> versions;
  ForEachFileVersion(full, "remove '" + name + "'", [&](const json& file) {
    if (JsonString(file, "fileName") != full) return false;  // past the name: longer names follow
    Version v{JsonString(file, "fileId")};
    const json& retention = file.value("fileRetention", json::object());
    const json& value = retention.value("value", json::object());
    if (value.is_object() && value.value("mode", json()).is_string() &&
        value.value("retainUntilTimestamp", json()).is_number()) {
      v.retain_until_ms = value["retainUntilTimestamp"].get<int64_t>();
    }
    versions.push_back(std::move(v));
    return true;
  });
  int64_t locked_until = -1;
  for (const Version& v : versions) {
    if (v.retain_until_ms > NowMs()) {
      locked_until = std::max(locked_until, v.retain_until_ms);
      continue;
    }
    RetryState retry = NewRetry("remove '" + name + "'");
    HttpResponse response = api_->CallRaw("b2_delete_file_version", {{"fileName", full}, {"fileId", v.id}}, retry);
    if (response.status == 200) continue;
    std::string code = b2::ParseB2Error(response).code;
    // Gone already (a concurrent Remove): that is the outcome we want.
    if (response.status == 404 || code == "file_not_present" || code == "not_found") continue;
    if (code == "access_denied" || code == "file_lock_conflict") {
      locked_until = std::max<int64_t>(locked_until, 0);
      continue;
    }
    throw b2::ErrorFromResponse(retry.what(), response);
  }
  if (locked_until >= 0) {
    throw ObjectLockedError(name, locked_until,
                            "b2: remove '" + name + "': object is under object lock retention" +
                                (locked_until > 0 ? " until " + std::to_string(locked_until / 1000) + " (unix time)" : ""));
  }
}

}  // namespace dhanbak::storage
