// Account, bucket, listing, info, hide and delete calls.
#include <algorithm>

#include <httplib.h>

#include "emulator/api_error.hpp"
#include "emulator/digest.hpp"
#include "emulator/emulator.hpp"
#include "emulator/encoding.hpp"
#include "emulator/params.hpp"

namespace dhanbak::emulator {

using nlohmann::json;

namespace {

std::optional<std::string> Base64Decode(const std::string &in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

bool IsValidBucketName(const std::string &name) {
  if (name.size() < 6 || name.size() > 50 || name.rfind("b2-", 0) == 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

}  // namespace

json Emulator::AuthorizeAccount(Call &call) {
  std::string header = call.req.get_header_value("Authorization");
  if (header.rfind("Basic ", 0) != 0) throw ApiError(401, "bad_auth_token", "Basic authorization is required");
  auto decoded = Base64Decode(header.substr(6));
  auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) throw ApiError(401, "bad_auth_token", "malformed Basic authorization");
  std::string key_id = decoded->substr(0, colon);
  std::string secret = decoded->substr(colon + 1);
  std::lock_guard lock(store_mutex_);
  const Key *key = store_.FindKey(key_id);
  if (!key && key_id == store_.AccountId() && !options_.keys.empty()) {
    key = store_.FindKey(options_.keys.front().id);  // the account id stands in for the master key id
  }
  if (!key || key->secret != secret) throw Unauthorized("invalid application key id or application key");
  if (key->expires_ms != 0 && NowMs() > key->expires_ms) throw Unauthorized("application key has expired");
  std::string token = tokens_.IssueAccount(key->id);

  json bucket_id = nullptr;
  json bucket_name = nullptr;
  if (key->bucket_id) {
    bucket_id = *key->bucket_id;
    if (const Bucket *bucket = store_.FindBucketById(*key->bucket_id)) bucket_name = bucket->name;
  }
  json name_prefix = key->name_prefix ? json(*key->name_prefix) : json(nullptr);
  json expiration = key->expires_ms ? json(key->expires_ms) : json(nullptr);
  json storage = {{"apiUrl", base_url_},
                  {"downloadUrl", base_url_},
                  {"s3ApiUrl", base_url_},
                  {"recommendedPartSize", options_.recommended_part_size},
                  {"absoluteMinimumPartSize", options_.min_part_size}};
  if (call.version >= 3) {
    if (call.version == 3) {
      storage["bucketId"] = bucket_id;
      storage["bucketName"] = bucket_name;
      storage["capabilities"] = key->capabilities;
      storage["namePrefix"] = name_prefix;
    } else {
      json buckets = bucket_id.is_null() ? json(nullptr) : json::array({{{"id", bucket_id}, {"name", bucket_name}}});
      storage["allowed"] = {{"buckets", buckets}, {"capabilities", key->capabilities}, {"namePrefix", name_prefix}};
    }
    storage["infoType"] = "storageApi";
    return {{"accountId", store_.AccountId()},
            {"authorizationToken", token},
            {"applicationKeyExpirationTimestamp", expiration},
            {"apiInfo", {{"storageApi", storage}}}};
  }
  json reply = storage;
  reply["accountId"] = store_.AccountId();
  reply["authorizationToken"] = token;
  reply["minimumPartSize"] = options_.recommended_part_size;  // deprecated alias of recommended
  reply["allowed"] = {{"bucketId", bucket_id}, {"bucketName", bucket_name},
                      {"capabilities", key->capabilities}, {"namePrefix", name_prefix}};
  return reply;
}

json Emulator::ListBuckets(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "listBuckets");
  if (RequireString(call.params, "accountId") != store_.AccountId()) throw Unauthorized("accountId does not match");
  auto bucket_id = OptString(call.params, "bucketId");
  auto bucket_name = OptString(call.params, "bucketName");
  std::vector<std::string> types = {"all"};
  if (auto t = OptJson(call.params, "bucketTypes")) {
    if (!t->is_array()) throw BadRequest("bucketTypes must be an array");
    types = t->get<std::vector<std::string>>();
  }
  if (key.bucket_id && !bucket_id && !bucket_name && call.version >= 2) {
    throw Unauthorized("this key is restricted to one bucket: pass its bucketId or bucketName");
  }
  json buckets = json::array();
  for (const Bucket *bucket : store_.Buckets()) {
    if (key.bucket_id && *key.bucket_id != bucket->id) continue;
    if (bucket_id && *bucket_id != bucket->id) continue;
    if (bucket_name && *bucket_name != bucket->name) continue;
    bool type_ok = std::find(types.begin(), types.end(), "all") != types.end() ||
                   std::find(types.begin(), types.end(), bucket->type) != types.end();
    if (type_ok) buckets.push_back(BucketJson(*bucket));
  }
  return {{"buckets", buckets}};
}

json Emulator::CreateBucket(Call &call) {
  std::lock_guard lock(store_mutex_);
  AuthorizeCall(call, "writeBuckets");
  if (RequireString(call.params, "accountId") != store_.AccountId()) throw Unauthorized("accountId does not match");
  Bucket bucket;
  bucket.name = RequireString(call.params, "bucketName");
  bucket.type = RequireString(call.params, "bucketType");
  if (bucket.type != "allPrivate" && bucket.type != "allPublic") throw BadRequest("bucketType must be allPrivate or allPublic");
  if (!IsValidBucketName(bucket.name)) throw BadRequest("Invalid bucket name: " + bucket.name);
  if (store_.FindBucketByName(bucket.name)) throw ApiError(400, "duplicate_bucket_name", "Bucket name is already in use.");
  bucket.file_lock = OptBool(call.params, "fileLockEnabled", false);
  if (auto info = OptJson(call.params, "bucketInfo")) bucket.info = *info;
  bucket.id = RandomHex(24);
  store_.PutBucket(bucket);
  return BucketJson(bucket);
}

json Emulator::DeleteBucket(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "deleteBuckets");
  if (RequireString(call.params, "accountId") != store_.AccountId()) throw Unauthorized("accountId does not match");
  const Bucket bucket = BucketParam(call, key);
  if (!store_.Names(bucket.id).empty()) {
    throw ApiError(400, "cannot_delete_non_empty_bucket", "Cannot delete non-empty bucket");
  }
  store_.RemoveBucket(bucket.id);
  return BucketJson(bucket);
}

json Emulator::GetUploadUrl(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "writeFiles");
  const Bucket &bucket = BucketParam(call, key);
  std::string url_id = RandomHex(16);
  std::string token = tokens_.IssueUpload({key.id, bucket.id, "", url_id});
  return {{"bucketId", bucket.id},
          {"uploadUrl", base_url_ + "/b2api/v" + std::to_string(call.version) + "/b2_upload_file/" + bucket.id + "/" + url_id},
          {"authorizationToken", token}};
}

json Emulator::ListFileNames(Call &call) { return ListVersionsOrNames(call, false); }
json Emulator::ListFileVersions(Call &call) { return ListVersionsOrNames(call, true); }

json Emulator::ListVersionsOrNames(Call &call, bool all_versions) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "listFiles");
  const Bucket &bucket = BucketParam(call, key);
  std::string prefix = OptString(call.params, "prefix").value_or("");
  std::string delimiter = OptString(call.params, "delimiter").value_or("");
  std::string start_name = OptString(call.params, "startFileName").value_or("");
  auto start_id = all_versions ? OptString(call.params, "startFileId") : std::nullopt;
  if (start_id && start_name.empty()) throw BadRequest("startFileId requires startFileName");
  int64_t max_count = OptInt(call.params, "maxFileCount", 100);
  if (max_count < 1 || max_count > 10000) throw BadRequest("maxFileCount must be between 1 and 10000");
  if (key.name_prefix && prefix.rfind(*key.name_prefix, 0) != 0) {
    throw Unauthorized("application key is restricted to names starting with " + *key.name_prefix);
  }

  const auto &names = store_.Names(bucket.id);
  json files = json::array();
  json next_name = nullptr;
  json next_id = nullptr;
  std::string last_folder;
  bool full = false;
  for (auto it = names.lower_bound(std::max(start_name, prefix)); it != names.end() && !full; ++it) {
    const std::string &name = it->first;
    if (name.compare(0, prefix.size(), prefix) != 0) break;  // past the prefix range
    std::vector<const FileVersion *> entries;
    bool skipping = start_id && name == start_name;
    for (const std::string &id : it->second) {
      const FileVersion *version = store_.FindVersion(id);
      if (all_versions) {
        if (skipping && id == *start_id) skipping = false;
        if (!skipping) entries.push_back(version);
      } else if (version->action != "start") {
        if (version->action == "upload") entries.push_back(version);
        break;  // only the newest finished version counts; a hide marker hides the name
      }
    }
    if (entries.empty()) continue;
    if (!delimiter.empty()) {
      auto pos = name.find(delimiter, prefix.size());
      if (pos != std::string::npos) {
        std::string folder = name.substr(0, pos + delimiter.size());
        if (folder == last_folder) continue;
        if (static_cast<int64_t>(files.size()) == max_count) {
          next_name = folder;
          break;
        }
        json entry = {{"accountId", store_.AccountId()}, {"action", "folder"}, {"bucketId", bucket.id},
                      {"contentLength", 0}, {"contentSha1", nullptr}, {"contentType", nullptr},
                      {"fileId", nullptr}, {"fileInfo", json::object()}, {"fileName", folder},
                      {"uploadTimestamp", 0}};
        if (call.version == 1) entry["size"] = 0;
        files.push_back(entry);
        last_folder = folder;
        continue;
      }
    }
    for (const FileVersion *version : entries) {
      if (static_cast<int64_t>(files.size()) == max_count) {
        next_name = version->name;
        if (all_versions) next_id = version->id;
        full = true;
        break;
      }
      files.push_back(FileJson(*version, call.version, key));
    }
  }
  json reply = {{"files", files}, {"nextFileName", next_name}};
  if (all_versions) reply["nextFileId"] = next_id;
  return reply;
}

json Emulator::GetFileInfo(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "readFiles");
  std::string file_id = RequireString(call.params, "fileId");
  const FileVersion *version = store_.FindVersion(file_id);
  if (!version) throw NotFound("File not present: " + file_id);
  CheckBucketAllowed(key, version->bucket_id);
  CheckNameAllowed(key, version->name);
  return FileJson(*version, call.version, key);
}

json Emulator::HideFile(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "writeFiles");
  const Bucket &bucket = BucketParam(call, key);
  std::string name = RequireString(call.params, "fileName");
  if (std::string problem = FileNameProblem(name); !problem.empty()) throw BadRequest(problem);
  CheckNameAllowed(key, name);
  const FileVersion *newest = nullptr;
  auto names_it = store_.Names(bucket.id).find(name);
  if (names_it != store_.Names(bucket.id).end()) {
    for (const std::string &id : names_it->second) {
      const FileVersion *version = store_.FindVersion(id);
      if (version->action != "start") {
        newest = version;
        break;
      }
    }
  }
  if (!newest) throw ApiError(400, "no_such_file", "File not present: " + name);
  if (newest->action == "hide") throw ApiError(400, "already_hidden", "File already hidden: " + name);
  FileVersion marker;
  marker.id = NewFileId(bucket.id);
  marker.bucket_id = bucket.id;
  marker.name = name;
  marker.action = "hide";
  marker.content_type = "application/x-bz-hide-marker";
  marker.upload_ms = NowMs();
  marker.seq = store_.NextSeq();
  store_.PutVersion(marker);
  return FileJson(marker, call.version, key);
}

json Emulator::DeleteFileVersion(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "deleteFiles");
  std::string name = RequireString(call.params, "fileName");
  std::string file_id = RequireString(call.params, "fileId");
  bool bypass = OptBool(call.params, "bypassGovernance", false);
  const FileVersion *version = store_.FindVersion(file_id);
  if (!version || version->name != name) throw ApiError(400, "file_not_present", "File not present: " + name + " " + file_id);
  CheckBucketAllowed(key, version->bucket_id);
  CheckNameAllowed(key, name);
  if (bypass && !key.Has("bypassGovernance")) throw Unauthorized("application key lacks the bypassGovernance capability");
  if (version->legal_hold) throw ApiError(403, "access_denied", "file version is under legal hold");
  if (!version->retention_mode.empty() && version->retain_until_ms > NowMs()) {
    if (version->retention_mode == "compliance") {
      throw ApiError(403, "access_denied", "file version is under compliance retention");
    }
    if (!bypass) {
      throw ApiError(403, "access_denied", "file version is under governance retention (bypassGovernance required)");
    }
  }
  store_.RemoveVersion(file_id);
  return {{"fileId", file_id}, {"fileName", name}};
}

}  // namespace dhanbak::emulator
