#!/bin/sh
# scripts/soak.sh: the long durability and model runs kept out of the
# default suite.  Builds (Release, in build/, unless BUILD_DIR is given and
# already configured, e.g. build-asan) and runs, stopping at the first
# failure:
#   1. crash_kill: a child process committing in FULL mode, SIGKILLed
#      ISLE_SOAK_KILLS times (default 5000) at random moments;
#   2. the simulated power-loss test of the engine: ISLE_ENGINE_LIVES lives
#      (default 20000) per sync mode, under a new ISLE_ENGINE_SEED;
#   3. the model tests of the B+tree and of the key/value API with
#      ISLE_MODEL_OPS operations (default 5000000) under a new
#      ISLE_MODEL_SEED.
# The seeds in use are printed first, so a failure can be replayed:
#   ISLE_ENGINE_SEED=... ISLE_MODEL_SEED=... scripts/soak.sh
#
# Usage: scripts/soak.sh [BUILD_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
kills=${ISLE_SOAK_KILLS:-5000}
lives=${ISLE_ENGINE_LIVES:-20000}
ops=${ISLE_MODEL_OPS:-5000000}
seed=${ISLE_ENGINE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
mseed=${ISLE_MODEL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
step() { printf '\n==== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DISLE_SANITIZE= >/dev/null
fi
cmake --build "$build" -j"$(nproc)"
echo "ISLE_ENGINE_SEED=$seed ISLE_MODEL_SEED=$mseed"

step "crash_kill: $kills kills"
"$build/tests/crash_kill" "$kills"

step "power loss: $lives lives per sync mode"
ISLE_ENGINE_LIVES=$lives ISLE_ENGINE_SEED=$seed \
  "$build/tests/test_engine" --filter 'power/*' --jobs 2

step "B+tree model: $ops operations"
ISLE_MODEL_OPS=$ops ISLE_MODEL_SEED=$mseed \
  "$build/tests/test_btree" --filter 'model/*'

step "key/value model: $ops operations"
ISLE_MODEL_OPS=$ops ISLE_MODEL_SEED=$mseed \
  "$build/tests/test_kv" --filter 'kv_model/*' --jobs 2

step "soak passed"
