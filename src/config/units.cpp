// ParseDuration and ParseRate: the human-friendly value syntaxes of the configuration file
// (and of options such as `status --max-age`).
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// Messages never quote the text: it may come from the configuration file, whose values are
// never repeated in messages (a misplaced secret must not reach a log).
[[noreturn]] void BadDuration(const std::string& /*text*/) {
  throw Error(ErrorCode::kInvalidArgument,
              "invalid duration: expected numbers with units w, d, h, m or s, e.g. 30d, 12h or 1d12h");
}

[[noreturn]] void BadRate(const std::string& /*text*/, const std::string& why) {
  throw Error(ErrorCode::kInvalidArgument, "invalid rate: " + why);
}

// Multiplies with an overflow check; false when the product does not fit.
bool MulFits(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > kMax / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

std::chrono::seconds ParseDuration(const std::string& text) {
  // Kept at most ~292 billion years so that the result also fits in chrono's signed count.
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (text.empty()) BadDuration(text);
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) BadDuration(text);
    uint64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (!MulFits(number, 10, &number) || number > kLimit - (text[i] - '0')) BadDuration(text);
      number += static_cast<uint64_t>(text[i] - '0');
      ++i;
    }
    if (i == text.size()) BadDuration(text);  // a bare number is ambiguous: say the unit
    uint64_t unit = 0;
    switch (text[i]) {
      case 'w': unit = 7 * 24 * 3600; break;
      case 'd': unit = 24 * 3600; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: BadDuration(text);
    }
    ++i;
    uint64_t part = 0;
    if (!MulFits(number, unit, &part) || part > kLimit - total) BadDuration(text);
    total += part;
  }
  return std::chrono::seconds(static_cast<int64_t>(total));
}

uint64_t ParseRate(const std::string& text) {
  // Grammar: NUMBER [PREFIX [i] B] [/s], where NUMBER may have a decimal fraction. Lower-case
  // `b` is refused because "Mb/s" usually means megabits and a silent 8x error is worse.
  size_t i = 0;
  uint64_t whole = 0;
  bool any_digit = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (!MulFits(whole, 10, &whole) || whole > kMax - (text[i] - '0')) BadRate(text, "too large");
    whole += static_cast<uint64_t>(text[i] - '0');
    any_digit = true;
    ++i;
  }
  // Fraction kept as numerator/denominator so that "1.5MiB/s" is exact.
  uint64_t frac_num = 0, frac_den = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (frac_den < 1000000ULL) {  // 6 digits are plenty and keep the product in range
        frac_num = frac_num * 10 + static_cast<uint64_t>(text[i] - '0');
        frac_den *= 10;
      }
      any_digit = true;
      ++i;
    }
  }
  if (!any_digit) BadRate(text, "expected a number of bytes per second, e.g. 20MiB/s or 500KB/s");
  std::string unit = text.substr(i);
  if (unit.size() >= 2 && unit.compare(unit.size() - 2, 2, "/s") == 0) {
    unit.resize(unit.size() - 2);
  }
  uint64_t multiplier = 1;
  if (!unit.empty()) {
    if (unit.back() != 'B') {
      BadRate(text, "unknown unit; use B, KB, MB, GB, KiB, MiB or GiB (bytes) per second");
    }
    unit.pop_back();
    bool binary = !unit.empty() && unit.back() == 'i';
    if (binary) unit.pop_back();
    uint64_t base = binary ? 1024 : 1000;
    int power = -1;
    if (unit.empty() && !binary) power = 0;
    else if (unit == "k" || unit == "K") power = 1;
    else if (unit == "M") power = 2;
    else if (unit == "G") power = 3;
    else if (unit == "T") power = 4;
    if (power < 0) {
      BadRate(text, "unknown unit; use B, KB, MB, GB, KiB, MiB or GiB (bytes) per second");
    }
    for (int p = 0; p < power; ++p) multiplier *= base;
  }
  uint64_t result = 0;
  if (!MulFits(whole, multiplier, &result)) BadRate(text, "too large");
  // multiplier <= 1024^4 and frac_num < 10^6, so this product fits in 64 bits.
  uint64_t fraction = frac_num * multiplier / frac_den;
  if (result > kMax - fraction) BadRate(text, "too large");
  return result + fraction;
}

}  // namespace dhanbak
