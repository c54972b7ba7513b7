#!/usr/bin/env bash
# The detector on real recordings: ../shared/data/real-dev (mixes and isolated notes with
# track-level sax / not-sax labels), as a user would run it.
#   1. A copy of the set tagged with each file's title and artist, so that every split keeps the
#      excerpts of one track together (splits group samples by recording).
#   2. Ingested into a fresh home; every sample labelled with its file's label (a truth.json).
#   3. The built-in detector zero-shot: `calibrate` chooses its threshold outside the fixed test
#      split and measures the test split.
#   4. Fine-tuning cross-validated by recording (`cv --folds 5`, folds drawn outside the fixed
#      test split), with the labels of 25, 50 or all training samples; cv prints the zero-shot
#      detector on the same folds beside each.
# Figures are per 5-s sample; the labels are weak (a sax track's excerpt may hold bars without
# it), so file-level figures (tests/infer: highest window per file) run higher.
# Usage: bench/real_dev.sh [BUILD_DIR] [KIND]   KIND: mix (default), isolated or all
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
kind=${2:-mix}
set_dir=${REAL_DEV:-../shared/data/real-dev}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sax() { "$build/saxdetect" --home "$work/home" --quiet "$@"; }

[[ -f "$set_dir/labels.csv" ]] || { echo "real_dev.sh: no $set_dir/labels.csv" >&2; exit 1; }
mkdir -p "$work/lib"
python3 - "$set_dir" "$work/lib" "$kind" <<'PY'
import csv, json, subprocess, sys
src, lib, kind = sys.argv[1:]
songs = []
for row in csv.DictReader(open(f"{src}/labels.csv")):
    if kind != "all" and row["kind"] != kind:
        continue
    out = f"{lib}/{row['id']}.flac"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", f"{src}/{row['file']}", "-c", "copy",
                    "-metadata", f"title={row['title']}", "-metadata", f"artist={row['artist']}",
                    out], check=True)
    songs.append({"file": f"{row['id']}.flac", "sax": [[0, 1e6]] if row["label"] == "sax" else []})
json.dump({"songs": songs}, open(f"{lib}/truth.json", "w"))
print(f"{len(songs)} files ({kind})")
PY
sax ingest "$work/lib" >/dev/null
sax labels import --from-truth "$work/lib/truth.json"
echo "== built-in detector, zero-shot (threshold chosen outside the test split)"
sax calibrate
for limit in 0 25 50; do
  echo "== fine-tuned, cv by recording, train_limit $limit (0: all)"
  echo "{\"train_limit\": $limit}" > "$work/config.json"
  sax cv --folds 5 --config "$work/config.json"
done
