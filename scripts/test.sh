#!/usr/bin/env bash
# test.sh — install dependencies, build (Release, then AddressSanitizer + UndefinedBehaviorSanitizer)
# and run every test with CTest. Exits non-zero on any failure; prints each phase's duration.
#
#   scripts/test.sh              both builds
#   DHANBAK_TEST_BUILDS=release scripts/test.sh    only the release build
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

phases=()
phase_start=$SECONDS
end_phase() {  # end_phase NAME: record how long the phase that just ended took
  phases+=("$(printf '%-22s %5d s' "$1" $((SECONDS - phase_start)))")
  phase_start=$SECONDS
}
report() {
  echo "=== phase durations"
  for p in "${phases[@]}"; do echo "  $p"; done
  echo "  $(printf '%-22s %5d s' total "$SECONDS")"
}
trap report EXIT

scripts/install-deps.sh
end_phase "install dependencies"

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
  end_phase "$build build"
  echo "=== $build tests"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
  end_phase "$build tests"
done
echo "=== all tests passed"
