#!/usr/bin/env bash
# Issue 5/6 targets on unseen timbres: train on songs rendered with one soundfont (FluidR3),
# evaluate on songs rendered with the other (MuseScore General), which the model never heard.
# Prints the test metrics of training (held-out FluidR3 songs) and `saxdetect evaluate` on the
# MuseScore songs (frame F1, clip accuracy, boundaries).
#   bench/unseen_timbre.sh [saxdetect-binary] [train-songs] [test-songs]
set -euo pipefail
bin=$(realpath "${1:-build/saxdetect}")
train_songs=${2:-40}
test_songs=${3:-16}
work=$(mktemp -d /tmp/saxdetect-unseen.XXXXXX)
trap 'rm -rf "$work"' EXIT
home="$work/home"
here=$(cd "$(dirname "$0")" && pwd)

sd() { "$bin" --home "$home" --quiet "$@"; }

echo "== rendering $train_songs FluidR3 songs (train) and $test_songs MuseScore songs (test)"
sd synth --out "$work/fluid" --songs "$train_songs" --seed 11 --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2
sd synth --out "$work/muse" --songs "$test_songs" --seed 22 --soundfont /usr/share/sounds/sf3/MuseScore_General_Full.sf3

echo "== ingest, labels from truth, train (defaults)"
sd ingest "$work/fluid"
sd labels import --from-truth "$work/fluid/truth.json"
start=$(date +%s)
sd train --kind cnn --out unseen 2>&1 | tail -n 4
echo "training wall time: $(( $(date +%s) - start )) s"
python3 - "$home/models/unseen/model.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
t = m.get("metrics", m).get("test", {})
print("held-out FluidR3 songs: " + ", ".join(f"{k} {t[k]:.3f}" for k in
      ("accuracy", "balanced_accuracy", "roc_auc", "f1") if k in t))
PY

echo "== unseen timbre (MuseScore songs): CNN"
sd evaluate --truth "$work/muse/truth.json" --model "$home/models/unseen" --json | tee "$work/cnn.json"

