#!/bin/sh
# scripts/install-check.sh BUILD_DIR: installs a build into a scratch prefix
# and builds a small program against it twice, through find_package(isle)
# and through pkg-config, then runs both.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
prefix=$build/install-check/prefix
rm -rf "$build/install-check"
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/isle.h"
cmake -S "$root/tests/install" -B "$build/install-check/cmake" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$build/install-check/cmake" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$build/install-check/cmake/consumer"
"$build/install-check/cmake/consumer_static"
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1)
PKG_CONFIG_PATH=$libdir cc -o "$build/install-check/pc_consumer" \
  "$root/tests/install/consumer.c" $(PKG_CONFIG_PATH=$libdir pkg-config --cflags --libs isle)
LD_LIBRARY_PATH="$(dirname "$libdir")" "$build/install-check/pc_consumer"
PKG_CONFIG_PATH=$libdir cc -o "$build/install-check/pc_consumer_static" \
  "$root/tests/install/consumer.c" $(PKG_CONFIG_PATH=$libdir pkg-config --static --cflags --libs isle | sed 's/-lisle/-l:libisle.a/')
"$build/install-check/pc_consumer_static"
echo "install check: ok"
