#!/usr/bin/env bash
# Library API latency: 100,000 synthetic scan results in SQLite, p50/p99 of GET /api/library
# for a filtered sorted page of 50 (target < 50 ms p99), a search and deep pages.
# Usage: bench/library.sh [BUILD_DIR] [REQUESTS] [SONGS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_library -j "$(nproc)" >/dev/null
echo "machine: $(nproc) cores,$(uptime | sed 's/.*load/ load/')"
"$build/bench/bench_library" "${2:-400}" "${3:-100000}"
