#!/bin/sh
# fuzz/run.sh TARGET SECONDS [JOBS]: runs one libFuzzer target (page, record
# or key) for SECONDS, starting from the committed corpus and keeping what it
# learns in fuzz/work/TARGET (not committed).  New crashes are written to
# fuzz/work/TARGET/crashes; once fixed, copy each into fuzz/corpus/TARGET so
# the normal test suite replays it forever.
set -eu
target=${1:?usage: fuzz/run.sh TARGET SECONDS [JOBS]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [JOBS]}
jobs=${3:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
if [ ! -x "$build/fuzz/fuzz_$target" ] || [ -n "$(find "$root/codec" "$root/fuzz" -newer "$build/fuzz/fuzz_$target" -name '*.[ch]' | head -1)" ]; then
  CC=clang cmake -S "$root" -B "$build" -DISLE_BUILD_FUZZ=ON -DISLE_BUILD_TESTS=OFF \
    -DISLE_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target "fuzz_$target" -j2 >/dev/null
fi
work=$root/fuzz/work/$target
mkdir -p "$work/corpus" "$work/crashes"
parallel=""
if [ "$jobs" -gt 1 ]; then
  parallel="-jobs=$jobs -workers=$jobs"
  cd "$work"  # libFuzzer writes one log per job into the working directory
fi
# shellcheck disable=SC2086
"$build/fuzz/fuzz_$target" -max_total_time="$seconds" $parallel \
  -dict="$root/fuzz/$target.dict" -artifact_prefix="$work/crashes/" \
  -print_final_stats=1 "$work/corpus" "$root/fuzz/corpus/$target"
