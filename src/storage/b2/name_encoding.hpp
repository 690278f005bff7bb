// B2 file names: validity rules and percent-encoding (reference §4.1, B2 "string encoding").
//
// Names go into the X-Bz-File-Name header and into download URLs percent-encoded. B2 decodes
// '+' as a space, so a literal '+' must be sent as %2B.
#pragma once

#include <string>
#include <string_view>

namespace dhanbak::storage::b2 {

// Minimal encoding: bytes outside B2's never-encode set (A-Z a-z 0-9 - . _ ~ ! $ ' ( ) * ; = : @ /)
// become %XX with upper-case hex.
std::string PercentEncodeName(std::string_view name);

// Accepts both minimal and full encodings; '+' decodes to a space. Malformed escapes are kept
// literally, as B2 clients do.
std::string PercentDecode(std::string_view text);

// Empty when `name` obeys the strict B2 rule set (1..1024 UTF-8 bytes, no control bytes, no DEL,
// no backslash, no leading/trailing '/', no "//", no segment over 250 bytes); otherwise the reason.
std::string InvalidNameReason(std::string_view name);

}  // namespace dhanbak::storage::b2
