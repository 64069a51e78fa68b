#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite:
#   1. installs the Debian packages (scripts/install-deps.sh, idempotent);
#   2. builds and runs every test (RelWithDebInfo);
#   3. builds and runs every test again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (with leak detection), so a leak or an overflow fails the run too.
#   4. builds the libFuzzer targets (clang, -DIX_FUZZ=ON; only those) and runs each for a fixed
#      number of executions from its committed seed corpus (tests/fuzz/CMakeLists.txt).
# Set IX_SKIP_SANITIZERS=1 to run only step 2 while iterating locally (it skips step 4 too).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=2
# configure DIR ARGS...: both builds keep line tables only (-g1, IX_LINES_DEBUG): sanitizer
# reports and backtraces keep functions, files and lines; the plain build compiles about a third
# faster, the ASan one 7-8 % (perf/RESULTS.md, "build and CI time"). The linker is mold
# (IX_LINKER=auto).
configure() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DIX_LINES_DEBUG=ON "$@"
}

configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

if [ "${IX_SKIP_SANITIZERS:-0}" != "1" ]; then
  configure build-asan -DCMAKE_BUILD_TYPE=Debug -DIX_SANITIZE=ON -DIX_BENCH=OFF
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j"$jobs" --output-on-failure
fi

if [ "${IX_SKIP_SANITIZERS:-0}" != "1" ]; then
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DIX_FUZZ=ON -DIX_BENCH=OFF
  cmake --build build-fuzz -j"$jobs" --target ix_fuzzers
  ctest --test-dir build-fuzz -L fuzz -j"$jobs" --output-on-failure
fi
