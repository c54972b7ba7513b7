#!/usr/bin/env bash
# Web app throughput: requests/s and p50/p99 for GET /api/next and POST /api/labels with 32
# keep-alive clients on SQLite, and a zero-lost-votes check. Usage: bench/web.sh [BUILD_DIR] [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_web -j "$(nproc)" >/dev/null
"$build/bench/bench_web" "${2:-5}" "${3:-32}"
