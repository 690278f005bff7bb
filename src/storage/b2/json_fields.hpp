// Reading optional fields of B2's JSON replies.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dhanbak::storage {

// j[key] when it is a string, else "" (B2 omits or nulls fields that do not apply).
inline std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace dhanbak::storage
