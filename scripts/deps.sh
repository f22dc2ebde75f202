#!/bin/sh
# scripts/deps.sh: installs what isle needs to build, test and fuzz on a
# Debian machine (bookworm or later).  Needs root, or sudo.
set -eu
# The benchmark's peers (SQLite, LMDB, RocksDB) are only needed by isle-bench;
# it skips any that is missing.
pkgs="build-essential cmake pkg-config libxxhash-dev libzstd-dev libcriterion-dev clang libclang-rt-dev
      libsqlite3-dev liblmdb-dev librocksdb-dev"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
