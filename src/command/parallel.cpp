#include "command/parallel.hpp"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace dhanbak::command {

void RunParallel(int n, std::atomic<bool>& failed, const std::function<void()>& fn) {
  std::mutex mu;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      try {
        fn();
      } catch (...) {
        failed = true;
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace dhanbak::command
