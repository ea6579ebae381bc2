#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite three times:
#   1. optimized build: unit, integration (real beanstalkd), CLI, examples, packaging, bench smoke,
#      each public header compiled on its own, the API reference (doxygen, warnings fail), and
#      the chaos tests (workloads through a fault proxy, label chaos: Release only, for time)
#   2. AddressSanitizer + UndefinedBehaviorSanitizer: the same tests
#   3. ThreadSanitizer: the threaded tests (async client, blocking client shared by threads)
#   4. libFuzzer, ASan+UBSan (clang: libFuzzer is clang's): every decoder's fuzz target for 60 s,
#      all at once, from the committed seeds (tests/fuzz/corpus)
# Every test that needs a server starts its own beanstalkd on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

jobs=$(nproc)
run_pass() {  # name, build dir, ctest args..., then -- cmake args...
  local name=$1 dir=$2; shift 2
  local ctest_args=() cmake_args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do ctest_args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cmake_args=("$@")
  echo "=== [$name] configure and build ($dir)"
  cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" ${BUILD_TARGET:+--target "$BUILD_TARGET"}
  echo "=== [$name] test"
  ctest --test-dir "$dir" -j "${CTEST_JOBS:-$jobs}" --output-on-failure --timeout 300 \
    "${ctest_args[@]}"
}

start=$(date +%s)
run_pass release build -- -DCMAKE_BUILD_TYPE=Release
# g++ for the sanitizer passes: clang 14 cannot compile C++20 coroutines against libstdc++ 12.
run_pass asan+ubsan build-asan -LE 'packaging|docs|chaos' -- -DCMAKE_BUILD_TYPE=Debug \
  -DBEANPOLE_SANITIZE=address,undefined
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  run_pass tsan build-tsan -LE chaos -R 'async|threads|Thread|worker|Worker|pool' -- -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBEANPOLE_SANITIZE=thread -DBEANPOLE_BUILD_CLI=OFF -DBEANPOLE_BUILD_BENCH=OFF \
  -DBEANPOLE_BUILD_EXAMPLES=OFF
# The fuzz targets only (the rest of the tree has coroutine code clang 14 cannot compile), each run
# for a minute; they are single-threaded and independent, so all run at once: about a minute of
# wall time whatever the number of cores.
BUILD_TARGET=fuzzers CTEST_JOBS=16 run_pass fuzz build-fuzz -L fuzz -- -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER=clang++ -DBEANPOLE_FUZZ=ON -DBEANPOLE_BUILD_CLI=OFF \
  -DBEANPOLE_BUILD_BENCH=OFF -DBEANPOLE_BUILD_EXAMPLES=OFF
echo "=== all passes green in $(( $(date +%s) - start )) s"
