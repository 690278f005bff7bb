#pragma once

#include <string>
#include <string_view>

namespace dhanbak::emulator {

std::string Sha1Hex(std::string_view data);
std::string Md5Hex(std::string_view data);
// Cryptographically random lower-case hex string of `chars` characters (ids, tokens).
std::string RandomHex(size_t chars);

}  // namespace dhanbak::emulator
