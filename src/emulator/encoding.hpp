#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dhanbak::emulator {

// B2 string encoding (b2/docs/string_encoding.html): %XX escapes; '+' means space because
// clients may send space as '+', so a literal plus always arrives as %2B.
std::optional<std::string> PercentDecode(std::string_view in);
// Minimal B2 encoding: keeps A-Z a-z 0-9 - . _ ~ ! $ ' ( ) * ; = : @ and '/' literal.
std::string PercentEncode(std::string_view in);

bool IsValidUtf8(std::string_view in);
// Empty when `name` is an acceptable B2 file name, else the reason it is not.
std::string FileNameProblem(std::string_view name);
// Empty when `key` (already lower-cased) is an acceptable X-Bz-Info-* key, else the reason.
std::string InfoKeyProblem(std::string_view key);
std::string ToLower(std::string_view in);

}  // namespace dhanbak::emulator
