#include "config/toml_field.hpp"

#include <cctype>
#include <set>

#include "dhanbak/error.hpp"

namespace dhanbak::config_detail {

std::string TomlField::Where() const { return source_ + ":" + std::to_string(line_); }

void TomlField::Fail(const std::string& problem) const {
  throw Error(ErrorCode::kConfig, Where() + ": key '" + key_ + "' " + problem);
}

std::string TomlField::String() const {
  const auto* value = node_.as_string();
  if (value == nullptr) Fail("must be a string");
  return value->get();
}

std::string TomlField::Url(const std::vector<std::string>& schemes, bool allow_empty) const {
  std::string url = String();
  if (url.empty()) {
    if (allow_empty) return url;
    Fail("must not be empty");
  }
  for (const auto& scheme : schemes) {
    if (url.rfind(scheme, 0) == 0 && url.size() > scheme.size()) return url;
  }
  std::string list;
  for (size_t i = 0; i < schemes.size(); ++i) {
    list += (i == 0 ? "" : (i + 1 == schemes.size() ? " or " : ", ")) + schemes[i];
  }
  Fail("must be a " + list + " url");
}

bool TomlField::Bool() const {
  const auto* value = node_.as_boolean();
  if (value == nullptr) Fail("must be true or false");
  return value->get();
}

std::string TomlField::AbsolutePath() const {
  std::string path = String();
  if (path.empty() || path[0] != '/') Fail("must be an absolute path");
  return path;
}

int64_t TomlField::Integer(int64_t min, int64_t max, const std::string& what) const {
  const auto* value = node_.as_integer();
  if (value == nullptr || value->get() < min || value->get() > max) Fail("must be " + what);
  return value->get();
}

std::vector<std::string> TomlField::StringList() const {
  const auto* array = node_.as_array();
  if (array == nullptr) Fail("must be an array of strings");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& element : *array) {
    const auto* value = element.as_string();
    if (value == nullptr) Fail("must be an array of strings");
    if (value->get().empty()) Fail("must not contain an empty name");
    if (!seen.insert(value->get()).second) {
      Fail("lists the same name twice (entry " + std::to_string(out.size() + 1) + " repeats an earlier one)");
    }
    out.push_back(value->get());
  }
  return out;
}

SecretRef TomlField::Secret() const {
  const auto* value = node_.as_string();
  if (value == nullptr) Fail("must be a string (env:NAME, file:PATH or literal:VALUE)");
  const std::string& spec = value->get();
  if (std::string problem = SecretSpecProblem(spec); !problem.empty()) Fail(problem);
  return SecretRef{spec, Where() + ": key '" + key_ + "'"};
}

std::chrono::seconds TomlField::Duration(bool allow_zero) const {
  const auto* value = node_.as_string();
  if (value == nullptr) Fail("must be a duration string such as \"30d\", \"12h\" or \"90m\"");
  std::chrono::seconds result{};
  try {
    result = ParseDuration(value->get());
  } catch (const Error&) {
    // The message of ParseDuration never quotes the value, so neither does this one.
    Fail("must be a duration such as \"30d\", \"12h\", \"90m\" or \"1d12h\" (units w, d, h, m, s)");
  }
  if (result.count() == 0 && !allow_zero) Fail("must be longer than zero");
  return result;
}

uint64_t TomlField::Bytes(const std::string& example) const {
  if (const auto* integer = node_.as_integer()) {
    if (integer->get() < 0) Fail("must not be negative");
    return static_cast<uint64_t>(integer->get());
  }
  const auto* value = node_.as_string();
  if (value == nullptr) Fail("must be " + example);
  try {
    return ParseRate(value->get());
  } catch (const Error& e) {
    Fail("is an " + std::string(e.what()));
  }
}

uint64_t TomlField::Rate() const { return Bytes("a rate such as \"20MiB/s\" or a number of bytes per second"); }

uint64_t TomlField::Size() const { return Bytes("a size such as \"8GiB\" or a number of bytes"); }

}  // namespace dhanbak::config_detail
