// Application keys: b2_create_key, b2_list_keys, b2_delete_key.
#include <algorithm>

#include <httplib.h>

#include "emulator/api_error.hpp"
#include "emulator/digest.hpp"
#include "emulator/emulator.hpp"
#include "emulator/params.hpp"

namespace dhanbak::emulator {

using nlohmann::json;

json Emulator::CreateKey(Call &call) {
  std::lock_guard lock(store_mutex_);
  AuthorizeCall(call, "writeKeys");
  if (RequireString(call.params, "accountId") != store_.AccountId()) throw Unauthorized("accountId does not match");
  Key key;
  key.name = RequireString(call.params, "keyName");
  if (key.name.size() > 100 || !std::all_of(key.name.begin(), key.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
      })) {
    throw BadRequest("keyName may hold only letters, digits and '-', at most 100 of them");
  }
  auto caps = OptJson(call.params, "capabilities");
  if (!caps || !caps->is_array() || caps->empty()) throw BadRequest("capabilities must be a non-empty array");
  for (const auto &cap : *caps) {
    if (!cap.is_string() ||
        std::find(AllCapabilities().begin(), AllCapabilities().end(), cap.get<std::string>()) == AllCapabilities().end()) {
      throw BadRequest("unknown capability " + cap.dump());
    }
    key.capabilities.push_back(cap.get<std::string>());
  }
  int64_t duration = OptInt(call.params, "validDurationInSeconds", 0);
  if (duration < 0 || duration >= int64_t{1000} * 86400) throw BadRequest("validDurationInSeconds out of range");
  if (duration > 0) key.expires_ms = NowMs() + duration * 1000;
  if (auto bucket_id = OptString(call.params, "bucketId")) {
    if (!store_.FindBucketById(*bucket_id)) throw ApiError(400, "bad_bucket_id", "Invalid bucketId: " + *bucket_id);
    key.bucket_id = *bucket_id;
  }
  if (auto prefix = OptString(call.params, "namePrefix")) {
    if (!key.bucket_id) throw BadRequest("namePrefix requires bucketId");
    key.name_prefix = *prefix;
  }
  key.id = "005" + RandomHex(21);
  key.secret = "K005" + RandomHex(27);
  store_.PutKey(key);
  json reply = KeyJson(key);
  reply["applicationKey"] = key.secret;  // returned once, never listed
  return reply;
}

json Emulator::ListKeys(Call &call) {
  std::lock_guard lock(store_mutex_);
  AuthorizeCall(call, "listKeys");
  int64_t max_count = OptInt(call.params, "maxKeyCount", 100);
  if (max_count < 1 || max_count > 10000) throw BadRequest("maxKeyCount must be between 1 and 10000");
  std::string start = OptString(call.params, "startApplicationKeyId").value_or("");
  json keys = json::array();
  json next = nullptr;
  for (const Key *key : store_.Keys()) {
    if (key->id < start) continue;
    if (static_cast<int64_t>(keys.size()) == max_count) {
      next = key->id;
      break;
    }
    keys.push_back(KeyJson(*key));
  }
  return {{"keys", keys}, {"nextApplicationKeyId", next}};
}

json Emulator::DeleteKey(Call &call) {
  std::lock_guard lock(store_mutex_);
  AuthorizeCall(call, "deleteKeys");
  std::string id = RequireString(call.params, "applicationKeyId");
  const Key *key = store_.FindKey(id);
  if (!key) throw BadRequest("application key does not exist: " + id);
  json reply = KeyJson(*key);
  store_.RemoveKey(id);
  tokens_.ForgetKey(id);
  return reply;
}

}  // namespace dhanbak::emulator
