// Hex and base64 encodings used by the repository format (docs/repository-format.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dhanbak {

std::string HexEncode(std::string_view bytes);
// Throws Error(kCorruption) on malformed input.
std::string HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// Throws Error(kCorruption) on malformed input.
std::string Base64Decode(std::string_view text);

// ASCII letters lowered, everything else (UTF-8 included) unchanged: for protocol tokens such as
// HTTP header names, URL schemes and setting names.
std::string AsciiLower(std::string_view s);

// The items separated by ", ": lists of names in messages.
std::string JoinComma(const std::vector<std::string>& items);

}  // namespace dhanbak
