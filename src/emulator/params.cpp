#include "emulator/params.hpp"

#include "emulator/api_error.hpp"

namespace dhanbak::emulator {

using nlohmann::json;

std::optional<std::string> OptString(const json &params, const char *name) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw BadRequest(std::string(name) + " must be a string");
  return it->get<std::string>();
}

std::string RequireString(const json &params, const char *name) {
  auto value = OptString(params, name);
  if (!value || value->empty()) throw BadRequest(std::string("required field ") + name + " is missing");
  return *value;
}

int64_t OptInt(const json &params, const char *name, int64_t fallback) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return fallback;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      size_t used = 0;
      int64_t value = std::stoll(it->get<std::string>(), &used);
      if (used == it->get<std::string>().size()) return value;
    } catch (const std::exception &) {
    }
  }
  throw BadRequest(std::string(name) + " must be an integer");
}

bool OptBool(const json &params, const char *name, bool fallback) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string() && (*it == "true" || *it == "false")) return *it == "true";
  throw BadRequest(std::string(name) + " must be a boolean");
}

std::optional<json> OptJson(const json &params, const char *name) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::nullopt;
  // Query strings carry arrays and objects as JSON text.
  if (it->is_string()) {
    json parsed = json::parse(it->get<std::string>(), nullptr, false);
    if (!parsed.is_discarded() && (parsed.is_array() || parsed.is_object())) return parsed;
  }
  return *it;
}

}  // namespace dhanbak::emulator
