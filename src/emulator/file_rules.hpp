#pragma once

#include <map>
#include <optional>
#include <string>

#include "emulator/model.hpp"

namespace dhanbak::emulator {

// Rules shared by b2_upload_file and b2_start_large_file. All throw ApiError.
void CheckFileInfo(const std::string &file_name, const std::map<std::string, std::string> &info);
// Object Lock settings requested at upload: mode + retain-until and/or legal hold.
void ApplyLockSettings(FileVersion &version, const Key &key, const Bucket &bucket,
                       const std::optional<std::string> &mode, const std::optional<int64_t> &retain_until_ms,
                       const std::optional<std::string> &legal_hold);
// `b2/x-auto`: a type from the name's extension, else application/octet-stream.
std::string ResolveContentType(const std::string &content_type, const std::string &file_name);

}  // namespace dhanbak::emulator
