// dhanbak-b2-emulator: a local Backblaze B2 native-API server for tests (docs/b2-emulator.md).
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "emulator/emulator.hpp"
#include "emulator/options.hpp"

int main(int argc, char **argv) {
  using namespace dhanbak::emulator;
  Options options;
  try {
    bool help = false;
    options = ParseOptions(argc, argv, help);
    if (help) return 0;
  } catch (const std::exception &error) {
    std::cerr << "dhanbak-b2-emulator: " << error.what() << "\n";
    return 2;
  }
  // SIGTERM/SIGINT are taken by one thread with sigwait, which then stops the server; blocked
  // before any other thread exists so that no worker receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    Emulator emulator(options);
    int port = emulator.Bind();
    std::thread waiter([&emulator, signals] {
      int received = 0;
      sigwait(&signals, &received);
      emulator.Stop();
    });
    waiter.detach();
    std::cout << "listening on http://" << options.host << ":" << port << std::endl;
    emulator.Run();
  } catch (const std::exception &error) {
    std::cerr << "dhanbak-b2-emulator: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
