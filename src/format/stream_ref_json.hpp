// JSON form of a StreamRef, shared by the logical backup manifest and the base backup manifest
// (docs/repository-format.md): found by nlohmann-json through argument-dependent lookup.
#pragma once

#include <nlohmann/json.hpp>

#include "dhanbak/format/manifest.hpp"

namespace dhanbak::format {

void to_json(nlohmann::json& j, const StreamRef& s);
// Throws Error(kCorruption) when bases or anchors do not match the chunks.
void from_json(const nlohmann::json& j, StreamRef& s);

}  // namespace dhanbak::format
