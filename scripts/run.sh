#!/bin/sh
# scripts/run.sh: builds isle (Release) and runs the main job: the example
# that stores objects and reads every one of them back.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DISLE_SANITIZE= >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target codec_tour
mkdir -p "$root/build/run"
"$root/build/examples/codec_tour" "$root/build/run/users.pages" 100000
