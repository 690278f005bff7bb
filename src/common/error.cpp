#include "dhanbak/error.hpp"

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

}  // namespace dhanbak
