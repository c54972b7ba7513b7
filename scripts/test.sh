#!/usr/bin/env bash
# Runs the whole suite: GoogleTest (via CTest) against SQLite and a throw-away PostgreSQL
# cluster, plus the browser tests. Expects ./scripts/setup.sh to have built ./build.
set -euo pipefail
cd "$(dirname "$0")/.."

# A private PostgreSQL cluster on a temporary directory and port, run as an ordinary user.
source scripts/pg-temp.sh
pg_temp_start
trap pg_temp_stop EXIT

# A build error fails the run: otherwise CTest would quietly test the binaries of an earlier build.
if ! cmake --build build -j "$(nproc)" > build/build.log 2>&1; then
  grep -E -A3 'error' build/build.log || tail -30 build/build.log
  echo "test.sh: the build failed (build/build.log)" >&2
  exit 1
fi
grep -E 'warning' build/build.log || true
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
