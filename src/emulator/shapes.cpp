// JSON shapes of B2 objects (files, buckets, keys) as each API version returns them.
#include "emulator/emulator.hpp"

namespace dhanbak::emulator {

using nlohmann::json;

json Emulator::FileJson(const FileVersion &v, int api_version, const Key &key) const {
  json j;
  j["accountId"] = store_.AccountId();
  j["action"] = v.action;
  j["bucketId"] = v.bucket_id;
  j["contentLength"] = v.length;
  j["contentSha1"] = v.action == "hide" ? json(nullptr) : json(v.action == "start" ? "none" : v.sha1);
  if (!v.md5.empty()) j["contentMd5"] = v.md5;
  j["contentType"] = v.content_type;
  j["fileId"] = v.id;
  j["fileInfo"] = v.info;
  j["fileName"] = v.name;
  // b2sdk 1.17.3 crashes on a null value while isClientAuthorizedToRead is true, so an
  // unset retention is an object of nulls.
  bool read_retention = key.Has("readFileRetentions");
  json retention_value = json{{"mode", nullptr}, {"retainUntilTimestamp", nullptr}};
  if (!v.retention_mode.empty()) {
    retention_value = {{"mode", v.retention_mode}, {"retainUntilTimestamp", v.retain_until_ms}};
  }
  j["fileRetention"] = {{"isClientAuthorizedToRead", read_retention},
                        {"value", read_retention ? retention_value : json(nullptr)}};
  bool read_hold = key.Has("readFileLegalHolds");
  j["legalHold"] = {{"isClientAuthorizedToRead", read_hold},
                    {"value", read_hold && v.legal_hold ? json("on") : json(nullptr)}};
  j["serverSideEncryption"] = {{"algorithm", nullptr}, {"mode", nullptr}};
  j["uploadTimestamp"] = v.upload_ms;
  if (api_version == 1) j["size"] = v.length;  // v1 clients (rclone) read size
  return j;
}

json Emulator::BucketJson(const Bucket &b) const {
  return {{"accountId", store_.AccountId()},
          {"bucketId", b.id},
          {"bucketName", b.name},
          {"bucketType", b.type},
          {"bucketInfo", b.info},
          {"corsRules", json::array()},
          {"lifecycleRules", json::array()},
          {"revision", b.revision},
          {"options", json::array({"s3"})},
          {"fileLockConfiguration",
           {{"isClientAuthorizedToRead", true},
            {"value",
             {{"isFileLockEnabled", b.file_lock},
              {"defaultRetention", {{"mode", nullptr}, {"period", nullptr}}}}}}},
          {"defaultServerSideEncryption",
           {{"isClientAuthorizedToRead", true}, {"value", {{"algorithm", nullptr}, {"mode", nullptr}}}}},
          {"replicationConfiguration", {{"isClientAuthorizedToRead", true}, {"value", nullptr}}}};
}

json Emulator::KeyJson(const Key &k) const {
  return {{"accountId", store_.AccountId()},
          {"applicationKeyId", k.id},
          {"keyName", k.name},
          {"capabilities", k.capabilities},
          {"bucketId", k.bucket_id ? json(*k.bucket_id) : json(nullptr)},
          {"namePrefix", k.name_prefix ? json(*k.name_prefix) : json(nullptr)},
          {"expirationTimestamp", k.expires_ms ? json(k.expires_ms) : json(nullptr)},
          {"options", json::array({"s3"})}};
}

}  // namespace dhanbak::emulator
