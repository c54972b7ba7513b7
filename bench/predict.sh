#!/usr/bin/env bash
# `saxdetect predict` speed and memory, end to end through the CLI:
#   1. a 5-minute MP3 analysed (decode + features + CNN + smoothing + JSON) against decoding the
#      same file alone with ffmpeg (-threads 1, mono 22.05 kHz to null): the baseline of this run;
#   2. peak RSS for a 2-hour MP3 against the 5-minute one (streaming keeps it flat).
# Usage: bench/predict.sh [BUILD_DIR] [MODEL_DIR]
#   MODEL_DIR: a trained model folder; default: a freshly initialised model of the default
#   architecture (same speed as a trained one), written by bench_predict --write-model.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=${2:-}
cmake --build "$build" --target saxdetect bench_predict -j "$(nproc)" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -z "$model" ]]; then
  model="$work/model"
  "$build/bench/bench_predict" --write-model "$model"
  echo "model: freshly initialised default architecture"
else
  echo "model: $model"
fi

song() {  # seconds, file: a chord over pink noise, stereo 44.1 kHz
  ffmpeg -loglevel error -f lavfi -i "sine=frequency=220:duration=$1" \
    -f lavfi -i "anoisesrc=color=pink:amplitude=0.1:duration=$1" \
    -filter_complex "[0][1]amix=inputs=2,aformat=channel_layouts=stereo" -ar 44100 -b:a 192k "$2"
}
song 300 "$work/song-5min.mp3"

best_of_3() {  # prints the best wall time of three runs of "$@", in seconds
  local best=999999
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    best=$(echo "if ($end - $start < $best) $end - $start else $best" | bc -l)
  done
  printf '%.3f' "$best"
}

decode=$(best_of_3 ffmpeg -threads 1 -i "$work/song-5min.mp3" -ac 1 -ar 22050 -f null -)
predict=$(best_of_3 "$build/saxdetect" predict --quiet --model "$model" --json "$work/song-5min.mp3")
echo "5-minute mp3: decode only (ffmpeg -threads 1) ${decode} s, predict end to end ${predict} s"
echo "  predict: $(echo "300 / $predict" | bc -l | xargs printf '%.0f')x real time," \
  "$(echo "$predict / $decode" | bc -l | xargs printf '%.2f')x the decode-only time (target < 1 s, >= 300x)"

peak_rss_mb() {  # peak resident memory of "$@" in MiB
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1 / 1024}'
}
song 7200 "$work/song-2h.mp3"
rss_short=$(peak_rss_mb "$build/saxdetect" predict --quiet --model "$model" --json "$work/song-5min.mp3")
rss_long=$(peak_rss_mb "$build/saxdetect" predict --quiet --model "$model" --json "$work/song-2h.mp3")
echo "peak RSS: 5-minute file ${rss_short} MiB, 2-hour file ${rss_long} MiB"
