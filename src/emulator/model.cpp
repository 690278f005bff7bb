#include "emulator/model.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace dhanbak::emulator {

using nlohmann::json;

bool Key::Has(const std::string &capability) const {
  return std::find(capabilities.begin(), capabilities.end(), capability) != capabilities.end();
}

namespace {
std::atomic<int64_t> clock_offset_ms{0};
}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         clock_offset_ms.load();
}

void SetClockOffsetMs(int64_t offset_ms) { clock_offset_ms = offset_ms; }

json ToJson(const Bucket &b) {
  return {{"id", b.id}, {"name", b.name}, {"type", b.type}, {"file_lock", b.file_lock},
          {"revision", b.revision}, {"info", b.info}};
}

Bucket BucketFromJson(const json &j) {
  Bucket b;
  b.id = j.at("id");
  b.name = j.at("name");
  b.type = j.value("type", "allPrivate");
  b.file_lock = j.value("file_lock", false);
  b.revision = j.value("revision", int64_t{1});
  b.info = j.value("info", json::object());
  return b;
}

json ToJson(const Key &k) {
  json j = {{"id", k.id}, {"secret", k.secret}, {"name", k.name},
            {"capabilities", k.capabilities}, {"expires_ms", k.expires_ms}};
  j["bucket_id"] = k.bucket_id ? json(*k.bucket_id) : json(nullptr);
  j["name_prefix"] = k.name_prefix ? json(*k.name_prefix) : json(nullptr);
  return j;
}

Key KeyFromJson(const json &j) {
  Key k;
  k.id = j.at("id");
  k.secret = j.at("secret");
  k.name = j.value("name", "");
  k.capabilities = j.at("capabilities").get<std::vector<std::string>>();
  k.expires_ms = j.value("expires_ms", int64_t{0});
  if (j.contains("bucket_id") && j["bucket_id"].is_string()) k.bucket_id = j["bucket_id"];
  if (j.contains("name_prefix") && j["name_prefix"].is_string()) k.name_prefix = j["name_prefix"];
  return k;
}

json ToJson(const Part &p) {
  return {{"number", p.number}, {"length", p.length}, {"sha1", p.sha1}, {"md5", p.md5},
          {"upload_ms", p.upload_ms}};
}

Part PartFromJson(const json &j) {
  Part p;
  p.number = j.at("number");
  p.length = j.at("length");
  p.sha1 = j.at("sha1");
  p.md5 = j.value("md5", "");
  p.upload_ms = j.value("upload_ms", int64_t{0});
  return p;
}

json ToJson(const FileVersion &v) {
  json parts = json::array();
  for (const auto &[number, part] : v.parts) parts.push_back(ToJson(part));
  return {{"id", v.id}, {"bucket_id", v.bucket_id}, {"name", v.name}, {"action", v.action},
          {"content_type", v.content_type}, {"sha1", v.sha1}, {"md5", v.md5},
          {"length", v.length}, {"upload_ms", v.upload_ms}, {"seq", v.seq}, {"info", v.info},
          {"retention_mode", v.retention_mode}, {"retain_until_ms", v.retain_until_ms},
          {"legal_hold", v.legal_hold}, {"parts", parts}};
}

FileVersion VersionFromJson(const json &j) {
  FileVersion v;
  v.id = j.at("id");
  v.bucket_id = j.at("bucket_id");
  v.name = j.at("name");
  v.action = j.at("action");
  v.content_type = j.value("content_type", "");
  v.sha1 = j.value("sha1", "");
  v.md5 = j.value("md5", "");
  v.length = j.value("length", int64_t{0});
  v.upload_ms = j.value("upload_ms", int64_t{0});
  v.seq = j.value("seq", uint64_t{0});
  v.info = j.value("info", std::map<std::string, std::string>{});
  v.retention_mode = j.value("retention_mode", "");
  v.retain_until_ms = j.value("retain_until_ms", int64_t{0});
  v.legal_hold = j.value("legal_hold", false);
  for (const auto &p : j.value("parts", json::array())) {
    Part part = PartFromJson(p);
    v.parts[part.number] = part;
  }
  return v;
}

}  // namespace dhanbak::emulator
