#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace dhanbak::emulator {

// Parameters arrive as a JSON body (POST) or as query strings (GET), so every getter accepts
// both the JSON type and its string spelling.
std::optional<std::string> OptString(const nlohmann::json &params, const char *name);
std::string RequireString(const nlohmann::json &params, const char *name);
int64_t OptInt(const nlohmann::json &params, const char *name, int64_t fallback);
bool OptBool(const nlohmann::json &params, const char *name, bool fallback);
std::optional<nlohmann::json> OptJson(const nlohmann::json &params, const char *name);

}  // namespace dhanbak::emulator
