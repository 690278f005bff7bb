#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dhanbak::emulator {

struct Bucket {
  std::string id;
  std::string name;
  std::string type = "allPrivate";  // allPrivate | allPublic
  bool file_lock = false;
  int64_t revision = 1;
  nlohmann::json info = nlohmann::json::object();
};

struct Key {
  std::string id;
  std::string secret;
  std::string name;
  std::vector<std::string> capabilities;
  std::optional<std::string> bucket_id;
  std::optional<std::string> name_prefix;
  int64_t expires_ms = 0;  // 0: never
  bool from_command_line = false;  // command-line keys are not persisted

  bool Has(const std::string &capability) const;
};

struct Part {
  int number = 0;
  int64_t length = 0;
  std::string sha1;
  std::string md5;
  int64_t upload_ms = 0;
};

// One stored version: an uploaded file, a hide marker, or an unfinished large file ("start").
struct FileVersion {
  std::string id;
  std::string bucket_id;
  std::string name;
  std::string action;  // upload | hide | start
  std::string content_type;
  std::string sha1;  // "none" for large files, "" for hide markers
  std::string md5;   // "" when unknown
  int64_t length = 0;
  int64_t upload_ms = 0;
  uint64_t seq = 0;  // creation order: breaks timestamp ties so "newest first" is stable
  std::map<std::string, std::string> info;
  std::string retention_mode;  // "", governance, compliance
  int64_t retain_until_ms = 0;
  bool legal_hold = false;
  std::map<int, Part> parts;  // only while action == "start"
};

nlohmann::json ToJson(const Bucket &bucket);
nlohmann::json ToJson(const Key &key);
nlohmann::json ToJson(const Part &part);
nlohmann::json ToJson(const FileVersion &version);
Bucket BucketFromJson(const nlohmann::json &j);
Key KeyFromJson(const nlohmann::json &j);
Part PartFromJson(const nlohmann::json &j);
FileVersion VersionFromJson(const nlohmann::json &j);

int64_t NowMs();
// Shifts the emulator's clock (upload timestamps, retention, key expiry): tests that need objects
// stored "days ago" set a negative offset through POST /_emulator/clock.
void SetClockOffsetMs(int64_t offset_ms);

}  // namespace dhanbak::emulator
