// RunParallel: runs `fn` on `n` threads and rethrows the first exception after all joined.
// `failed` is set as soon as one thread fails, so the others can stop early.
#pragma once

#include <atomic>
#include <functional>

namespace dhanbak::command {
void RunParallel(int n, std::atomic<bool>& failed, const std::function<void()>& fn);
}
