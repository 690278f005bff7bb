// SHA-1 as B2 wants it: 40 lower-case hex digits (X-Bz-Content-Sha1, large_file_sha1).
#pragma once

#include <string>
#include <string_view>

namespace dhanbak::storage::b2 {

std::string Sha1Hex(std::string_view data);

}  // namespace dhanbak::storage::b2
