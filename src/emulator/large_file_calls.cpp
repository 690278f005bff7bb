// The large-file calls: start, part URLs, finish, cancel, and their listings.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <httplib.h>

#include "emulator/api_error.hpp"
#include "emulator/digest.hpp"
#include "emulator/emulator.hpp"
#include "emulator/encoding.hpp"
#include "emulator/file_rules.hpp"
#include "emulator/params.hpp"

namespace dhanbak::emulator {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const FileVersion &Unfinished(const Store &store, const std::string &file_id) {
  const FileVersion *version = store.FindVersion(file_id);
  if (!version || version->action != "start") throw BadRequest("No active large file with id " + file_id);
  return *version;
}

}  // namespace

json Emulator::StartLargeFile(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "writeFiles");
  const Bucket &bucket = BucketParam(call, key);
  FileVersion version;
  version.name = RequireString(call.params, "fileName");
  if (std::string problem = FileNameProblem(version.name); !problem.empty()) throw BadRequest(problem);
  CheckNameAllowed(key, version.name);
  version.content_type = ResolveContentType(RequireString(call.params, "contentType"), version.name);
  if (auto info = OptJson(call.params, "fileInfo")) {
    if (!info->is_object()) throw BadRequest("fileInfo must be an object");
    for (const auto &[k, v] : info->items()) {
      if (!v.is_string()) throw BadRequest("fileInfo values must be strings");
      version.info[ToLower(k)] = v.get<std::string>();
    }
  }
  CheckFileInfo(version.name, version.info);
  std::optional<std::string> mode;
  std::optional<int64_t> until;
  std::optional<std::string> hold;
  if (auto retention = OptJson(call.params, "fileRetention"); retention && retention->is_object()) {
    if ((*retention).contains("mode") && (*retention)["mode"].is_string()) mode = (*retention)["mode"];
    if ((*retention).contains("retainUntilTimestamp") && (*retention)["retainUntilTimestamp"].is_number()) {
      until = (*retention)["retainUntilTimestamp"].get<int64_t>();
    }
  }
  if (auto legal = OptString(call.params, "legalHold")) hold = legal;
  ApplyLockSettings(version, key, bucket, mode, until, hold);
  version.id = NewFileId(bucket.id);
  version.bucket_id = bucket.id;
  version.action = "start";
  version.sha1 = "none";
  version.upload_ms = NowMs();
  version.seq = store_.NextSeq();
  store_.PutVersion(version);
  return FileJson(version, call.version, key);
}

json Emulator::GetUploadPartUrl(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "writeFiles");
  const FileVersion &version = Unfinished(store_, RequireString(call.params, "fileId"));
  CheckBucketAllowed(key, version.bucket_id);
  std::string url_id = RandomHex(16);
  std::string token = tokens_.IssueUpload({key.id, version.bucket_id, version.id, url_id});
  return {{"fileId", version.id},
          {"uploadUrl", base_url_ + "/b2api/v" + std::to_string(call.version) + "/b2_upload_part/" + version.id + "/" + url_id},
          {"authorizationToken", token}};
}

json Emulator::FinishLargeFile(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "writeFiles");
  FileVersion version = Unfinished(store_, RequireString(call.params, "fileId"));
  CheckBucketAllowed(key, version.bucket_id);
  auto sha1s = OptJson(call.params, "partSha1Array");
  if (!sha1s || !sha1s->is_array() || sha1s->empty()) throw BadRequest("partSha1Array is required");
  size_t count = sha1s->size();
  for (size_t i = 0; i < count; ++i) {
    int number = static_cast<int>(i + 1);
    auto it = version.parts.find(number);
    if (it == version.parts.end()) throw ApiError(400, "missing_part", "Part number " + std::to_string(number) + " has not been uploaded");
    if (!(*sha1s)[i].is_string() || ToLower((*sha1s)[i].get<std::string>()) != it->second.sha1) {
      throw ApiError(400, "part_sha1_mismatch", "Part number " + std::to_string(number) + " has wrong SHA1");
    }
  }
  for (size_t i = 0; i + 1 < count; ++i) {
    if (version.parts.at(static_cast<int>(i + 1)).length < options_.min_part_size) {
      throw BadRequest("Part number " + std::to_string(i + 1) + " is smaller than the minimum part size " +
                       std::to_string(options_.min_part_size));
    }
  }
  if (version.parts.size() != count) throw BadRequest("partSha1Array does not list every uploaded part");
  // Concatenate the parts into the object file, atomically.
  fs::path target = store_.ObjectPath(version.id);
  fs::path tmp = target;
  tmp += ".tmp-" + RandomHex(8);
  int64_t total = 0;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const auto &[number, part] : version.parts) {
      std::ifstream in(store_.PartPath(version.id, number), std::ios::binary);
      out << in.rdbuf();
      total += part.length;
    }
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  {
    std::FILE *file = std::fopen(tmp.c_str(), "rb");  // fsync before rename: no torn objects after a crash
    if (file) {
      ::fsync(fileno(file));
      std::fclose(file);
    }
  }
  fs::rename(tmp, target);
  version.action = "upload";
  version.length = total;
  version.sha1 = "none";
  version.parts.clear();
  store_.PutVersion(version);
  std::error_code ignored;
  fs::remove_all(store_.PartPath(version.id, 1).parent_path(), ignored);
  return FileJson(version, call.version, key);
}

json Emulator::CancelLargeFile(Call &call) {
  std::lock_guard lock(store_mutex_);
  // B2's docs ask for writeFiles here, so an append-only key can clean up its own uploads.
  const Key &key = AuthorizeCall(call, "writeFiles");
  const FileVersion version = Unfinished(store_, RequireString(call.params, "fileId"));
  CheckBucketAllowed(key, version.bucket_id);
  store_.RemoveVersion(version.id);
  return {{"fileId", version.id}, {"accountId", store_.AccountId()}, {"bucketId", version.bucket_id},
          {"fileName", version.name}};
}

json Emulator::ListUnfinishedLargeFiles(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "listFiles");
  const Bucket &bucket = BucketParam(call, key);
  std::string prefix = OptString(call.params, "namePrefix").value_or("");
  auto start_id = OptString(call.params, "startFileId");
  int64_t max_count = OptInt(call.params, "maxFileCount", 100);
  if (max_count < 1 || max_count > 100) throw BadRequest("maxFileCount must be between 1 and 100");
  json files = json::array();
  json next_id = nullptr;
  bool started = !start_id;
  for (const auto &[name, ids] : store_.Names(bucket.id)) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    for (auto id = ids.rbegin(); id != ids.rend(); ++id) {  // oldest first within a name
      const FileVersion *version = store_.FindVersion(*id);
      if (version->action != "start") continue;
      if (!started && *id == *start_id) started = true;
      if (!started) continue;
      if (static_cast<int64_t>(files.size()) == max_count) {
        next_id = *id;
        return {{"files", files}, {"nextFileId", next_id}};
      }
      files.push_back(FileJson(*version, call.version, key));
    }
  }
  return {{"files", files}, {"nextFileId", next_id}};
}

json Emulator::ListParts(Call &call) {
  std::lock_guard lock(store_mutex_);
  const Key &key = AuthorizeCall(call, "writeFiles");
  const FileVersion &version = Unfinished(store_, RequireString(call.params, "fileId"));
  CheckBucketAllowed(key, version.bucket_id);
  int64_t start = OptInt(call.params, "startPartNumber", 1);
  int64_t max_count = OptInt(call.params, "maxPartCount", 100);
  if (max_count < 1 || max_count > 1000) throw BadRequest("maxPartCount must be between 1 and 1000");
  if (start < 1 || start > 10000) throw BadRequest("startPartNumber must be between 1 and 10000");
  json parts = json::array();
  json next = nullptr;
  for (auto it = version.parts.lower_bound(static_cast<int>(start)); it != version.parts.end(); ++it) {
    if (static_cast<int64_t>(parts.size()) == max_count) {
      next = it->first;
      break;
    }
    const Part &part = it->second;
    parts.push_back({{"fileId", version.id}, {"partNumber", part.number}, {"contentLength", part.length},
                     {"contentSha1", part.sha1}, {"contentMd5", part.md5}, {"uploadTimestamp", part.upload_ms},
                     {"serverSideEncryption", {{"algorithm", nullptr}, {"mode", nullptr}}}});
  }
  return {{"parts", parts}, {"nextPartNumber", next}};
}

}  // namespace dhanbak::emulator
