#!/bin/sh
# scripts/run.sh: builds isle (Release) and runs the main job: the quick
# benchmark (isle-bench with no arguments: N = 100,000, every workload, on
# isle and on each installed peer: SQLite, LMDB, RocksDB).  Arguments are
# passed to isle-bench (for example --n 1M, --only get, --json FILE).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DISLE_SANITIZE= >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target isle-bench
"$root/build/bench/isle-bench" "$@"
