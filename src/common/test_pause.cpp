#include "common/test_pause.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/interrupt.hpp"

namespace dhanbak {

void TestPausePoint(const char* name) {
  const char* points = std::getenv("DHANBAK_TEST_PAUSE");
  const char* dir = std::getenv("DHANBAK_TEST_PAUSE_DIR");
  if (points == nullptr || dir == nullptr) return;
  std::stringstream list(points);
  bool listed = false;
  for (std::string item; std::getline(list, item, ',');) listed = listed || item == name;
  if (!listed) return;
  const std::string base = std::string(dir) + "/" + name;
  std::ofstream(base + ".reached") << "reached\n";
  while (!std::filesystem::exists(base + ".continue")) {
    ThrowIfInterrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // NAME.again: pause at every pass, not only the first (the test removes .continue's trace).
  if (std::filesystem::exists(base + ".again")) {
    std::error_code ignored;
    std::filesystem::remove(base + ".reached", ignored);
    std::filesystem::remove(base + ".continue", ignored);
  }
}

}  // namespace dhanbak
