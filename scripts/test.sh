#!/bin/sh
# scripts/test.sh: builds isle and runs every test:
#   1. Release build, the whole suite (unit, integration, examples, fuzz
#      corpus replays, install check);
#   2. Debug build under AddressSanitizer + UndefinedBehaviorSanitizer, the
#      whole suite again;
#   3. ThreadSanitizer build, the tests labelled 'concurrency';
#   4. clang libFuzzer build, each fuzz target for a few seconds (smoke).
# Long soaks are not here: see README ("Soak tests").
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
step() { printf '\n==== %s\n' "$*"; }

step "release build and tests"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DISLE_SANITIZE= >/dev/null
cmake --build "$root/build" -j"$jobs"
ctest --test-dir "$root/build" -j"$jobs" --output-on-failure

step "install check: find_package(isle) and pkg-config"
"$root/scripts/install-check.sh" "$root/build"

step "address + undefined sanitizers"
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DISLE_SANITIZE=address >/dev/null
cmake --build "$root/build-asan" -j"$jobs"
ctest --test-dir "$root/build-asan" -j"$jobs" --output-on-failure

step "thread sanitizer (concurrency tests)"
cmake -S "$root" -B "$root/build-tsan" -DCMAKE_BUILD_TYPE=Debug -DISLE_SANITIZE=thread >/dev/null
cmake --build "$root/build-tsan" -j"$jobs"
ctest --test-dir "$root/build-tsan" -j"$jobs" --output-on-failure -L concurrency

step "fuzz smoke (libFuzzer, 10 s per target)"
for t in page record key; do
  "$root/fuzz/run.sh" "$t" 10 >"$root/build/fuzz-$t.log" 2>&1 ||
    { tail -40 "$root/build/fuzz-$t.log"; exit 1; }
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" "$root/build/fuzz-$t.log" |
    sed "s/^/$t: /"
done
step "all tests passed"
