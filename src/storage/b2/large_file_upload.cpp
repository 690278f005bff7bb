// B2Storage::PutLarge — the large-file API (reference §5) for objects above the part size.
//
// The whole-object SHA-1 goes into fileInfo.large_file_sha1 (downloads check it) and the part
// size into fileInfo.dhanbak_part_size. Before starting, an unfinished large file with the same
// name, SHA-1 and part size (left by a crash or an exhausted retry budget) is resumed: parts
// B2 already holds with the right SHA-1 and length are not sent again. Parts go up one after
// another on the calling thread, with one part URL at a time, as B2 requires per thread.
#include <nlohmann/json.hpp>

#include <map>

#include "dhanbak/error.hpp"
#include "storage/b2/api_client.hpp"
#include "storage/b2/auth_session.hpp"
#include "storage/b2/b2_storage.hpp"
#include "storage/b2/http_client.hpp"
#include "storage/b2/json_fields.hpp"
#include "storage/b2/retry_policy.hpp"
#include "storage/b2/sha1.hpp"
#include "storage/b2/upload_url_pool.hpp"

namespace dhanbak::storage {

using b2::HttpRequest;
using b2::HttpResponse;
using b2::RetryState;
using nlohmann::json;

namespace {

struct StoredPart {
  std::string sha1;
  uint64_t length = 0;
};

}  // namespace

void B2Storage::PutLarge(const std::string& full, std::string_view data, const std::string& sha1,
                         RetryState& retry) {
  auto auth = session_->Get(retry);
  uint64_t part_size = options_.part_size == 0 ? auth->recommended_part_size : options_.part_size;
  part_size = std::max(part_size, auth->absolute_minimum_part_size);
  const std::string part_size_text = std::to_string(part_size);
  const std::string bucket_id = BucketId(retry);

  // Resume: look for our own unfinished upload of exactly these bytes.
  std::string file_id;
  {
    std::optional<std::string> start_id;
    while (file_id.empty()) {
      json request = {{"bucketId", bucket_id}, {"namePrefix", full}, {"maxFileCount", 100}};
      if (start_id) request["startFileId"] = *start_id;
      json reply = api_->Call("b2_list_unfinished_large_files", request, retry);
      for (const auto& file : reply.value("files", json::array())) {
        const json& info = file.value("fileInfo", json::object());
        if (JsonString(file, "fileName") == full && JsonString(info, "large_file_sha1") == sha1 &&
            JsonString(info, "dhanbak_part_size") == part_size_text) {
          file_id = JsonString(file, "fileId");
          break;
        }
      }
      if (JsonString(reply, "nextFileId").empty()) break;
      start_id = JsonString(reply, "nextFileId");
    }
  }

  std::map<int, StoredPart> stored;
  if (!file_id.empty()) {
    int start_part = 1;
    for (;;) {
      json reply = api_->Call("b2_list_parts", {{"fileId", file_id}, {"startPartNumber", start_part}, {"maxPartCount", 1000}},
                              retry);
      for (const auto& part : reply.value("parts", json::array())) {
        stored[part.value("partNumber", 0)] = StoredPart{JsonString(part, "contentSha1"), part.value("contentLength", uint64_t{0})};
      }
      auto next = reply.find("nextPartNumber");
      if (next == reply.end() || !next->is_number_integer()) break;
      start_part = next->get<int>();
    }
  } else {
    json request = {{"bucketId", bucket_id},
                    {"fileName", full},
                    {"contentType", "application/octet-stream"},
                    {"fileInfo", {{"large_file_sha1", sha1}, {"dhanbak_part_size", part_size_text}}}};
    if (config_.object_lock_days > 0) {
      request["fileRetention"] = {{"mode", "governance"}, {"retainUntilTimestamp", std::stoll(RetentionUntilMs())}};
    }
    file_id = JsonString(api_->Call("b2_start_large_file", request, retry), "fileId");
    if (file_id.empty()) throw Error(ErrorCode::kPermanent, "b2: " + retry.what() + ": b2_start_large_file returned no fileId");
  }

  json part_sha1s = json::array();
  std::optional<b2::UploadTarget> target;
  const uint64_t part_count = (data.size() + part_size - 1) / part_size;
  for (uint64_t i = 0; i < part_count; ++i) {
    const int part_number = static_cast<int>(i + 1);
    std::string_view part = data.substr(i * part_size, part_size);
    std::string part_sha1 = b2::Sha1Hex(part);
    part_sha1s.push_back(part_sha1);
    auto it = stored.find(part_number);
    if (it != stored.end() && it->second.sha1 == part_sha1 && it->second.length == part.size()) continue;
    HttpResponse response = api_->Run(
        retry, b2::TokenKind::kUpload,
        [&](const b2::AccountAuth&) {
          if (!target) {
            json reply = api_->Call("b2_get_upload_part_url", {{"fileId", file_id}}, retry);
            target = b2::UploadTarget{JsonString(reply, "uploadUrl"), JsonString(reply, "authorizationToken")};
          }
          HttpRequest request;
          request.method = "POST";
          request.url = target->url;
          request.headers = {"Authorization: " + target->token, "X-Bz-Part-Number: " + std::to_string(part_number),
                             "X-Bz-Content-Sha1: " + part_sha1};
          request.body = part;
          return http_->Perform(request);
        },
        [&] { target.reset(); });
    if (response.status != 200) throw b2::ErrorFromResponse(retry.what() + ": part " + std::to_string(part_number), response);
  }
  api_->Call("b2_finish_large_file", {{"fileId", file_id}, {"partSha1Array", part_sha1s}}, retry);
}

}  // namespace dhanbak::storage
