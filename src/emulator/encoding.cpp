#include "emulator/encoding.hpp"

#include <cctype>
#include <cstring>

namespace dhanbak::emulator {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSafe(unsigned char c) {
  return std::isalnum(c) != 0 || std::strchr("-._~!$'()*;=:@/", c) != nullptr;
}

// B2 forbids these b2-* keys' siblings: only the documented reserved names are accepted.
constexpr const char *kReservedInfoKeys[] = {"b2-content-disposition", "b2-content-language",
                                             "b2-expires", "b2-cache-control",
                                             "b2-content-encoding"};

}  // namespace

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int high = HexValue(in[i + 1]);
      int low = HexValue(in[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (IsSafe(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view in) {
  size_t i = 0;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= in.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(in[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    // Overlong forms and surrogates are not UTF-8.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF)) || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string FileNameProblem(std::string_view name) {
  if (name.empty()) return "file name is empty";
  if (name.size() > 1024) return "file name is longer than 1024 bytes";
  if (!IsValidUtf8(name)) return "file name is not valid UTF-8";
  for (unsigned char c : name) {
    if (c < 0x20) return "file name contains a control character";
    if (c == 0x7F) return "file name contains DEL";
    if (c == '\\') return "file name contains a backslash";
  }
  if (name.front() == '/') return "file name starts with '/'";
  if (name.back() == '/') return "file name ends with '/'";
  if (name.find("//") != std::string_view::npos) return "file name contains '//'";
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    size_t end = slash == std::string_view::npos ? name.size() : slash;
    if (end - start > 250) return "file name has a segment longer than 250 bytes";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return "";
}

std::string InfoKeyProblem(std::string_view key) {
  if (key.empty()) return "file info key is empty";
  if (key.size() > 50) return "file info key is longer than 50 bytes";
  for (unsigned char c : key) {
    if (std::isalnum(c) == 0 && std::strchr("-_.`~!#$%^&*'|+", c) == nullptr) {
      return "file info key contains an invalid character";
    }
  }
  if (key.substr(0, 3) == "b2-") {
    for (const char *reserved : kReservedInfoKeys) {
      if (key == reserved) return "";
    }
    return "file info key uses the reserved prefix b2-";
  }
  return "";
}

std::string ToLower(std::string_view in) {
  std::string out(in);
  for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace dhanbak::emulator
