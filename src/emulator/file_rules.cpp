#include "emulator/file_rules.hpp"

#include "emulator/api_error.hpp"
#include "emulator/encoding.hpp"

namespace dhanbak::emulator {

void CheckFileInfo(const std::string &file_name, const std::map<std::string, std::string> &info) {
  if (info.size() > 10) throw BadRequest("too many file info entries (at most 10)");
  size_t total = file_name.size();
  for (const auto &[key, value] : info) {
    if (std::string problem = InfoKeyProblem(key); !problem.empty()) throw BadRequest(problem + ": " + key);
    total += key.size() + value.size();
  }
  if (total > 7000) throw BadRequest("file name and file info exceed 7000 bytes");
}

void ApplyLockSettings(FileVersion &version, const Key &key, const Bucket &bucket,
                       const std::optional<std::string> &mode, const std::optional<int64_t> &retain_until_ms,
                       const std::optional<std::string> &legal_hold) {
  if (mode || retain_until_ms) {
    if (!key.Has("writeFileRetentions")) throw Unauthorized("application key lacks the writeFileRetentions capability");
    if (!bucket.file_lock) throw BadRequest("file lock is not enabled on bucket " + bucket.name);
    if (!mode || !retain_until_ms) throw BadRequest("retention needs both a mode and a retain-until timestamp");
    if (*mode != "governance" && *mode != "compliance") throw BadRequest("retention mode must be governance or compliance");
    if (*retain_until_ms <= NowMs()) throw BadRequest("retain-until timestamp must be in the future");
    version.retention_mode = *mode;
    version.retain_until_ms = *retain_until_ms;
  }
  if (legal_hold) {
    if (!key.Has("writeFileLegalHolds")) throw Unauthorized("application key lacks the writeFileLegalHolds capability");
    if (!bucket.file_lock) throw BadRequest("file lock is not enabled on bucket " + bucket.name);
    if (*legal_hold != "on" && *legal_hold != "off") throw BadRequest("legal hold must be on or off");
    version.legal_hold = *legal_hold == "on";
  }
}

std::string ResolveContentType(const std::string &content_type, const std::string &file_name) {
  if (content_type != "b2/x-auto") return content_type;
  static const std::map<std::string, std::string> kTypes = {
      {"txt", "text/plain"}, {"html", "text/html"}, {"json", "application/json"},
      {"jpg", "image/jpeg"}, {"png", "image/png"}, {"gz", "application/gzip"},
      {"zip", "application/zip"}, {"pdf", "application/pdf"}, {"sql", "application/sql"},
      {"zst", "application/zstd"}};
  auto dot = file_name.rfind('.');
  auto slash = file_name.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    auto it = kTypes.find(ToLower(file_name.substr(dot + 1)));
    if (it != kTypes.end()) return it->second;
  }
  return "application/octet-stream";
}

}  // namespace dhanbak::emulator
