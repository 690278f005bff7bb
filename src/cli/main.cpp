#include <malloc.h>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
  // Chunk-sized buffers (~2.5 MiB, up to 8) go straight to mmap and back to the system when freed.
  // Otherwise glibc raises its mmap threshold after the first such free and keeps them in
  // per-thread arenas, so peak RSS grows with the number of threads that ever touched a chunk
  // (uploaders, COPY workers, two databases at a time) instead of following the live pipeline.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  return dhanbak::cli::Main(argc, argv);
}
