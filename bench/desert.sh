#!/bin/sh
# How often training falls into the 0.693 desert: 100 short runs on demo-like data (synthesised
# songs, labelled from their ground truth), one per seed, counting the runs whose desert
# detector fired. Target: fewer than 1 in 100. See bench/desert.cpp for the data and config.
#   bench/desert.sh [build dir=build] [runs=100] [songs=48] [epochs=15] [threads=1]
set -eu
build=${1:-build}
runs=${2:-100}
songs=${3:-48}
epochs=${4:-15}
threads=${5:-1}
"$build/bench/bench_desert" "$runs" "$songs" "$epochs" "$threads" | tee /dev/stderr |
  awk '/^desert_runs/ {print "desert: " $2 " of " $4 " runs fired the desert detector"}'
