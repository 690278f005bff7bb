#include <malloc.h>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
  // At most two malloc arenas: otherwise glibc gives busy threads arenas of their own (up to 8 per
  // core) and each keeps the chunk-sized buffers (~2.5 MiB) it freed, so peak RSS would grow with
  // the number of threads that ever touched a chunk. (Forcing such buffers to mmap instead, with
  // M_MMAP_THRESHOLD, costs a page fault per 4 KiB on every chunk: a third of a backup's time.)
  mallopt(M_ARENA_MAX, 2);
  return dhanbak::cli::Main(argc, argv);
}
