#!/usr/bin/env bash
# Runs the whole suite: GoogleTest (via CTest) against SQLite and a throw-away PostgreSQL
# cluster, plus the browser tests. Expects ./scripts/setup.sh to have built ./build.
set -euo pipefail
cd "$(dirname "$0")/.."

# A private PostgreSQL cluster on a temporary directory and port, run as an ordinary user.
source scripts/pg-temp.sh
pg_temp_start
trap pg_temp_stop EXIT

cmake --build build -j "$(nproc)" 2>&1 | grep -E 'error|warning' || true
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
