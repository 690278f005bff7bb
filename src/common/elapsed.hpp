// Wall-clock seconds since a steady_clock point: how long each step of a run took (reports,
// phase tables).
#pragma once

#include <chrono>

namespace dhanbak {

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace dhanbak
