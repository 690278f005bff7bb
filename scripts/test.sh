#!/usr/bin/env bash
# test.sh — install dependencies, build (Release, then AddressSanitizer + UndefinedBehaviorSanitizer)
# and run every test with CTest. Exits non-zero on any failure.
#
#   scripts/test.sh              both builds
#   DHANBAK_TEST_BUILDS=release scripts/test.sh    only the release build
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

jobs=$(nproc)
builds=${DHANBAK_TEST_BUILDS:-"release sanitize"}
for build in $builds; do
  case $build in
    release)  flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    sanitize) flags=(-DCMAKE_BUILD_TYPE=Debug -DDHANBAK_SANITIZE=ON) ;;
    *) echo "test.sh: unknown build '$build'" >&2; exit 2 ;;
  esac
  dir="$root/build/$build"
  echo "=== $build build ($dir)"
  cmake -S "$root" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== $build tests"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
done
echo "=== all tests passed"
