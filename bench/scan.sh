#!/usr/bin/env bash
# `saxdetect scan` throughput against decoding alone, in one run:
#   an hour of music (12 five-minute MP3s, stereo 44.1 kHz, 192 kb/s) is ingested (not timed),
#   then scanned with --jobs JOBS (default 2) by MODEL_DIR (default: the built-in detector), and
#   the same files are decoded by ffmpeg alone (-threads 1, to mono at the model's rate, to
#   null), JOBS at a time: the decode-only baseline. Prints both, x real time (total and per core), their
#   ratio, the scan's peak RSS, and a rescan with nothing to do.
# Targets: >= 300x real time per core including decoding (an hour in < 6 s with --jobs 2).
# Usage: bench/scan.sh [BUILD_DIR] [MODEL_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=${2:-}
jobs=${JOBS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --build "$build" --target saxdetect -j "$(nproc)" >/dev/null
echo "model: ${model:-the built-in detector (EfficientAT mn04_as, zero-shot)}"
rate=32000  # the rate the model's features need: the decoder resamples to it
if [[ -n "$model" ]] &&
  [[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("kind","cnn"))' "$model/model.json")" == cnn ]]; then
  rate=22050
fi
model_option=()
[[ -n "$model" ]] && model_option=(--model "$model")
echo "machine: $(nproc) cores,$(uptime | sed 's/.*load/ load/')"

mkdir -p "$work/music"
for i in $(seq 1 12); do  # a chord over pink noise, a different pitch per song
  ffmpeg -loglevel error -f lavfi -i "sine=frequency=$((180 + 20 * i)):duration=300" \
    -f lavfi -i "anoisesrc=color=pink:amplitude=0.1:duration=300" \
    -filter_complex "[0][1]amix=inputs=2,aformat=channel_layouts=stereo" -ar 44100 -b:a 192k \
    "$work/music/song-$i.mp3"
done
seconds=3600
home="$work/home"
# One clip per song is enough here: ingest is not what is measured.
"$build/saxdetect" --home "$home" -q ingest --hop 300 --jobs "$jobs" "$work/music" >/dev/null

start=$(date +%s.%N)
ls "$work"/music/*.mp3 | xargs -P "$jobs" -I{} ffmpeg -loglevel error -threads 1 -i {} -ac 1 \
  -ar "$rate" -f null -
decode=$(echo "$(date +%s.%N) - $start" | bc -l)

/usr/bin/time -f '%e %M' -o "$work/time" "$build/saxdetect" --home "$home" -q scan \
  "${model_option[@]}" --jobs "$jobs" >"$work/scan.txt"
read -r scan rss <"$work/time"
/usr/bin/time -f '%e' -o "$work/rescan" "$build/saxdetect" --home "$home" -q scan \
  "${model_option[@]}" --jobs "$jobs" >/dev/null

f() { printf "%.${2:-2}f" "$1"; }
echo "an hour of music (12 x 5 min mp3), $jobs jobs:"
echo "  decode only (ffmpeg -threads 1, $jobs at a time)  $(f "$decode") s:" \
  "$(f "$(echo "$seconds / $decode" | bc -l)" 0)x real time"
echo "  saxdetect scan --jobs $jobs                     $(f "$scan") s:" \
  "$(f "$(echo "$seconds / $scan" | bc -l)" 0)x real time," \
  "$(f "$(echo "$seconds / $scan / $jobs" | bc -l)" 0)x per core," \
  "$(f "$(echo "$scan / $decode" | bc -l)")x the decode-only time; peak RSS $((rss / 1024)) MiB"
echo "  (target: >= 300x per core, an hour in < 6 s with --jobs 2)"
echo "  $(cat "$work/scan.txt")"
echo "  rescan with nothing to do                     $(cat "$work/rescan") s"
echo "machine after:$(uptime | sed 's/.*load/ load/')"
