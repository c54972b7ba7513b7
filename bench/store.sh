#!/usr/bin/env bash
# Store throughput: votes/s and latency with 32 clients on SQLite and on a throw-away
# PostgreSQL cluster, in the same run; two loads each: "label" (next_sample + add_vote, as the
# labelling page) and "vote" (add_vote alone: the vote path by itself).
# Usage: bench/store.sh [BUILD_DIR] [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_store -j "$(nproc)" >/dev/null
source scripts/pg-temp.sh
pg_temp_start
trap pg_temp_stop EXIT
"$build/bench/bench_store" "${2:-5}" "${3:-32}"
