#include "dhanbak/error.hpp"

#include <cctype>
#include <cstring>

namespace dhanbak {

int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kConfig:
    case ErrorCode::kAuth:
      return 2;
    case ErrorCode::kCorruption:
    case ErrorCode::kVerification:
      return 3;
    case ErrorCode::kLocked:
      return 4;
    case ErrorCode::kStatusAlert:
      return 5;
    default:
      return 1;
  }
}

std::string ErrnoMessage(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

}  // namespace dhanbak
