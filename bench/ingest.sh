#!/usr/bin/env bash
# Ingest throughput against FFmpeg's own decoder, measured in the same run on the same files.
#
#   bench/ingest.sh [path/to/saxdetect]      HOURS=2 (audio per run, half mp3, half flac)
#
# Prints, for each: wall and CPU seconds, x real time; then the ratios the targets are set on:
#   single-job ingest / ffmpeg decode-only  (target >= 0.8)
#   --jobs 2 / single job                   (target >= 1.7 on 2 cores)
#   peak RSS ingesting one 2-hour file      (target < 300 MB)
# CPU-time ratios are printed too: on a shared machine they are steadier than wall time.
set -euo pipefail

SAXDETECT=${1:-$(dirname "$0")/../build/saxdetect}
HOURS=${HOURS:-2}
WORK=${WORK:-$(mktemp -d /tmp/saxdetect-bench-ingest.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
FILES_PER_FORMAT=6
FILE_SECONDS=$(awk -v h="$HOURS" -v n="$FILES_PER_FORMAT" 'BEGIN { printf "%d", h * 3600 / 2 / n }')

# A music-like signal (tone + pink noise, different in every file so content hashes differ).
generate() {  # generate SECONDS SEED OUTPUT [ffmpeg codec options...]
  local seconds=$1 seed=$2 output=$3
  shift 3
  ffmpeg -v error -y -f lavfi -i "sine=f=$((220 + seed * 37)):d=$seconds:sample_rate=44100" \
    -f lavfi -i "anoisesrc=d=$seconds:c=pink:a=0.2:r=44100:seed=$seed" \
    -filter_complex "[0][1]amix=inputs=2,aformat=channel_layouts=stereo" "$@" "$output"
}

# measure NAME COMMAND...: runs it, records "wall user+sys maxrss_kb" in $WORK/NAME.time
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$name.time" "$@" >/dev/null 2>"$WORK/$name.err" || {
    echo "$name failed:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
}
wall() { awk '{ print $1 }' "$WORK/$1.time"; }
cpu() { awk '{ print $2 + $3 }' "$WORK/$1.time"; }
rss_mb() { awk '{ printf "%.0f", $4 / 1024 }' "$WORK/$1.time"; }

echo "generating ${HOURS} h of audio ($FILES_PER_FORMAT mp3 + $FILES_PER_FORMAT flac of ${FILE_SECONDS} s) in $WORK"
mkdir -p "$WORK/library"
for i in $(seq 1 $FILES_PER_FORMAT); do
  generate "$FILE_SECONDS" "$i" "$WORK/library/song$i.mp3" -c:a libmp3lame -b:a 192k &
  generate "$FILE_SECONDS" "$((i + 100))" "$WORK/library/song$i.flac" &
  wait
done
AUDIO_SECONDS=$(awk -v h="$HOURS" 'BEGIN { print h * 3600 }')

decode_all() {
  for f in "$WORK"/library/*; do
    ffmpeg -v error -threads 1 -i "$f" -ac 1 -ar 22050 -f s16le - >/dev/null
  done
}
export -f decode_all
export WORK

echo "ffmpeg decode-only (-threads 1, mono 22050 Hz)"
measure ffmpeg bash -c decode_all
echo "saxdetect ingest --jobs 1"
measure single "$SAXDETECT" --home "$WORK/home1" --quiet ingest --jobs 1 "$WORK/library"
echo "saxdetect ingest --jobs 2"
measure jobs2 "$SAXDETECT" --home "$WORK/home2" --quiet ingest --jobs 2 "$WORK/library"

echo "generating one 2-hour flac for peak memory"
generate 7200 999 "$WORK/long.flac"
measure long "$SAXDETECT" --home "$WORK/home3" --quiet ingest "$WORK/long.flac"

report() {  # report NAME LABEL
  printf "%-26s wall %7.1f s  cpu %7.1f s  %6.0fx real time  peak RSS %5s MB\n" "$2" "$(wall "$1")" \
    "$(cpu "$1")" "$(awk -v a="$AUDIO_SECONDS" -v w="$(wall "$1")" 'BEGIN { print a / w }')" "$(rss_mb "$1")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "== ${HOURS} h of audio ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)) =="
report ffmpeg "ffmpeg decode-only"
report single "ingest --jobs 1"
report jobs2 "ingest --jobs 2"
echo
echo "single-job ingest / ffmpeg decode (wall):  $(ratio "$(wall ffmpeg)" "$(wall single)")  (target >= 0.8)"
echo "single-job ingest / ffmpeg decode (cpu):   $(ratio "$(cpu ffmpeg)" "$(cpu single)")"
echo "--jobs 2 / --jobs 1 (wall):                $(ratio "$(wall single)" "$(wall jobs2)")  (target >= 1.7)"
echo "peak RSS, 2-hour file:                     $(rss_mb long) MB  (target < 300 MB), $(wall long) s"
