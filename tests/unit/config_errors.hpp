// Helpers shared by the configuration unit tests: the message of the dhanbak::Error a call
// throws (checking its code), and of parsing a configuration text.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak::test {

// Runs `fn`, expects Error(code), returns its message.
template <typename Fn>
std::string ErrorOf(Fn&& fn, ErrorCode code = ErrorCode::kConfig) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(static_cast<int>(e.code()) == static_cast<int>(code));
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

inline std::string ParseError(const std::string& text) {
  return ErrorOf([&] { ParseConfig(text, "/etc/dhanbak/dhanbak.toml"); });
}

}  // namespace dhanbak::test
