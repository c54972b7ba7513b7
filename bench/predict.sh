#!/usr/bin/env bash
# `saxdetect predict` speed and memory, end to end through the CLI, in one run:
#   1. a 5-minute MP3 (stereo 44.1 kHz, 192 kb/s) decoded alone with ffmpeg (-threads 1, to mono
#      at the model's rate, to null: the decode-only baseline) and analysed by predict (decode + features
#      + CNN + smoothing + JSON); prints both times, their ratio and predict's x real time;
#   2. predict on a 6-second cut of it: the fixed cost of any run (loading the libraries and
#      the model; saxdetect loads no LibTorch for it), and the 5-minute time without it;
#   3. for a CNN model, the CNN alone (bench_predict's BM_CnnWindows: 32 windows on one thread)
#      with Winograd's 3x3 convolutions, the default, against im2col, in the same run;
#   4. peak RSS for a 2-hour MP3 against the 5-minute one (streaming keeps it flat); skipped
#      with QUICK=1.
# Times are the best of three runs; CPU is user + system seconds of that run. The machine's load
# average is printed before and after: on a shared machine, wall times follow the load.
# Usage: bench/predict.sh [BUILD_DIR] [MODEL_DIR]
#   MODEL_DIR: a trained model folder; default: the built-in detector (a data home with no model).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=${2:-}
jobs=${JOBS:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --build "$build" --target saxdetect bench_predict -j "$jobs" >/dev/null
echo "model: ${model:-the built-in detector (EfficientAT mn04_as, zero-shot)}"
echo "machine: $(nproc) cores,$(uptime | sed 's/.*load/ load/')"

song() {  # seconds, file: a chord over pink noise, stereo 44.1 kHz
  ffmpeg -loglevel error -f lavfi -i "sine=frequency=220:duration=$1" \
    -f lavfi -i "anoisesrc=color=pink:amplitude=0.1:duration=$1" \
    -filter_complex "[0][1]amix=inputs=2,aformat=channel_layouts=stereo" -ar 44100 -b:a 192k "$2"
}
song 300 "$work/song-5min.mp3"
ffmpeg -loglevel error -i "$work/song-5min.mp3" -t 6 -c copy "$work/song-6s.mp3"

# best_of_3 NAME COMMAND...: sets NAME (best wall seconds) and NAME_cpu (user + sys of that run).
best_of_3() {
  local name=$1 best=999999 best_cpu=0
  shift
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null 2>&1
    read -r wall user sys <"$work/time"
    if (($(echo "$wall < $best" | bc -l))); then
      best=$wall
      best_cpu=$(echo "$user + $sys" | bc -l)
    fi
  done
  printf -v "$name" '%.2f' "$best"
  printf -v "${name}_cpu" '%.2f' "$best_cpu"
}
ratio() { echo "$1 / $2" | bc -l | xargs printf "%.${3:-2}f"; }

predict=("$build/saxdetect" --home "$work/home" predict --quiet --json)
[[ -n "$model" ]] && predict+=(--model "$model")
kind=cnn
[[ -z "$model" ]] || kind=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("kind","cnn"))' "$model/model.json")
[[ -n "$model" ]] || kind=efficientat
rate=32000  # the rate the model's features need: the decoder resamples to it
[[ "$kind" == cnn ]] && rate=22050
best_of_3 decode ffmpeg -threads 1 -i "$work/song-5min.mp3" -ac 1 -ar "$rate" -f null -
best_of_3 total "${predict[@]}" "$work/song-5min.mp3"
best_of_3 fixed "${predict[@]}" "$work/song-6s.mp3"
echo "5-minute mp3:"
echo "  decode only (ffmpeg -threads 1)  ${decode} s wall, ${decode_cpu} s CPU"
echo "  predict end to end               ${total} s wall, ${total_cpu} s CPU:" \
  "$(ratio 300 "$total" 0)x real time, $(ratio "$total" "$decode")x the decode-only time" \
  "(target < 1 s, >= 300x)"
echo "  of which a 6-second file's cost  ${fixed} s wall, ${fixed_cpu} s CPU (loading the" \
  "libraries and the model)"
rest=$(echo "$total - $fixed" | bc -l | xargs printf '%.2f')
echo "  the 5 minutes themselves         ${rest} s wall: $(ratio 294 "$rest" 0)x real time"
echo "machine after:$(uptime | sed 's/.*load/ load/')"

if [[ "$kind" == cnn ]]; then
  "$build/bench/bench_predict" --model "$model" --benchmark_filter=CnnWindows \
    --benchmark_format=json 2>/dev/null | python3 -c '
import json, sys
text = sys.stdin.read()  # after the line naming the model
rate = {b["label"]: b["windows_per_s"] for b in json.loads(text[text.index("{"):])["benchmarks"]}
print("CNN alone, 32 windows on one thread: im2col %.0f, Winograd %.0f windows/s: %.2fx"
      % (rate["im2col"], rate["winograd"], rate["winograd"] / rate["im2col"]))'
fi

if [[ "${QUICK:-0}" == 1 ]]; then exit 0; fi
peak_rss_mb() {  # peak resident memory of "$@" in MiB
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1 / 1024}'
}
song 7200 "$work/song-2h.mp3"
rss_short=$(peak_rss_mb "${predict[@]}" "$work/song-5min.mp3")
rss_long=$(peak_rss_mb "${predict[@]}" "$work/song-2h.mp3")
echo "peak RSS: 5-minute file ${rss_short} MiB, 2-hour file ${rss_long} MiB"
