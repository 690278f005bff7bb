#!/usr/bin/env bash
# test.sh — install dependencies, build (Release, then AddressSanitizer + UndefinedBehaviorSanitizer)
# and run every test with CTest in both builds. Exits non-zero on any failure; prints each
# phase's duration.
#
#   scripts/test.sh                                  both builds
#   DHANBAK_TEST_BUILDS=release scripts/test.sh      only the release build
#
# The tests wait on PostgreSQL servers and processes far more than they compute, so the
# release tests run while the sanitizer build compiles (the build, niced, taking the CPU they
# leave), and each build's tests run two more tests at a time than there are cores. (With the
# sanitizer build compiled by clang, the release tests outlast it by minutes: one more than the
# cores then left a core idle about half the time.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

phases=()
started=$SECONDS
report() {
  echo "=== phase durations"
  for p in "${phases[@]}"; do echo "  $p"; done
  echo "  $(printf '%-40s %5d s' total $((SECONDS - started)))"
}
trap report EXIT
phase() {  # phase NAME START_SECONDS
  phases+=("$(printf '%-40s %5d s' "$1" $((SECONDS - $2)))")
}

t=$SECONDS
scripts/install-deps.sh
phase "install dependencies" "$t"

jobs=$(nproc)
# The tests' PostgreSQL clusters, work directories and repositories go on a tmpfs when the machine
# has one with room (2-6% less CPU than on ext4: the clusters create and drop databases and WAL
# segments by the thousand). DHANBAK_TEST_TMPDIR set by the caller wins; /tmp otherwise.
if [[ -z ${DHANBAK_TEST_TMPDIR:-} && $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
   (( $(df --output=avail -k /dev/shm | tail -n 1) > 4 * 1024 * 1024 )); then
  export DHANBAK_TEST_TMPDIR=/dev/shm
fi
echo "=== test directories in ${DHANBAK_TEST_TMPDIR:-/tmp}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
builds=${DHANBAK_TEST_BUILDS:-"release sanitize"}

configure_and_build() {  # configure_and_build NAME [nice]
  local build=$1 flags
  case $build in
    release)  flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    sanitize) flags=(-DCMAKE_BUILD_TYPE=Debug -DDHANBAK_SANITIZE=ON)
              # Compiled by clang when there is one (install-deps.sh installs it): its
              # instrumented -O0 build takes 132 CPU seconds where GCC 12's takes 267, for tests
              # that run as fast, and a second compiler's warnings come free.
              # The Release build stays with GCC, the compiler a user's build gets.
              if command -v clang++ >/dev/null && command -v clang >/dev/null; then
                flags+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
              fi
              # The Release build's integration harness, when this run built it, runs the
              # integration tests against the sanitized dhanbak (tests/CMakeLists.txt says why).
              if [[ -x $root/build/release/tests/integration_tests && " $built " == *" release "* ]]; then
                flags+=(-DDHANBAK_INTEGRATION_HARNESS="$root/build/release/tests/integration_tests")
              else
                flags+=(-DDHANBAK_INTEGRATION_HARNESS=)
              fi ;;
    *) echo "test.sh: unknown build '$build'" >&2; exit 2 ;;
  esac
  echo "=== $build build ($root/build/$build)"
  # Built once from scratch: each target as one unity translation unit (least compile time).
  cmake -S "$root" -B "$root/build/$build" -G Ninja "${flags[@]}" -DDHANBAK_UNITY_BATCH_SIZE=0 >/dev/null
  ${2:+nice -n 10} cmake --build "$root/build/$build" -j "$jobs"
  built+=" $build"
}

run_tests() {  # run_tests NAME JOBS: ctest in that build
  (cd "$root/build/$1" && ctest --output-on-failure -j "$2" --timeout 900)
}

failed=()
built=""
background_pid=""
background_build=""
background_started=0
for build in $builds; do
  t=$SECONDS
  # The build that follows a test run in the background yields the CPU to it (nice).
  configure_and_build "$build" ${background_pid:+nice}
  phase "$build build${background_pid:+ (beside $background_build tests)}" "$t"
  if [[ -n $background_pid ]]; then
    wait "$background_pid" || failed+=("$background_build")
    echo "=== $background_build tests (ran beside the $build build)"
    cat "$root/build/$background_build-tests.log"
    phases+=("$(printf '%-40s %5d s' "$background_build tests (beside the $build build)" \
      "$(cat "$root/build/$background_build-tests.seconds" 2>/dev/null || echo 0)")")
    background_pid=""
  fi
  # Every build's tests but the last run in the background while the next build compiles.
  if [[ $build != "${builds##* }" ]]; then
    echo "=== $build tests: started, output follows the next build"
    background_build=$build
    background_started=$SECONDS
    (rc=0; run_tests "$build" $((jobs + 2)) || rc=$?; echo $((SECONDS - background_started)) > "$root/build/$build-tests.seconds"; exit $rc) \
      > "$root/build/$build-tests.log" 2>&1 &
    background_pid=$!
  else
    t=$SECONDS
    echo "=== $build tests"
    run_tests "$build" $((jobs + 2)) || failed+=("$build")
    phase "$build tests" "$t"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "=== tests FAILED in: ${failed[*]}" >&2
  exit 1
fi
echo "=== all tests passed"
