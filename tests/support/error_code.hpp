// The ErrorCode a call throws, for tests that check which kind of failure an operation reports.
#pragma once

#include <functional>

#include "dhanbak/error.hpp"

namespace dhanbak::test {

// The code of the dhanbak::Error `fn` throws; kInternal when it throws nothing.
inline ErrorCode CodeOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace dhanbak::test
