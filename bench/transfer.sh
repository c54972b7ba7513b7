#!/usr/bin/env bash
# Issue 8's report: from-scratch CNN, zero-shot YAMNet, YAMNet with a new head (frozen), YAMNet
# fine-tuned (top layers), and the CNN pretrained on other synth songs then fine-tuned, each
# with a learning curve over the number of training labels. Train on songs rendered with one
# soundfont (FluidR3), measure on the fixed grouped test split of those songs ("held-out") and
# on songs rendered with the other soundfont (MuseScore: unseen timbres), sample by sample with
# `saxdetect assess`. Prints a Markdown table (the one in docs/transfer.md).
#   bench/transfer.sh [saxdetect-binary] [train-songs=120] [test-songs=30] [sizes="100 300 all"]
# WORK=DIR keeps (and reuses) the libraries and homes; EPOCHS, FINE_TUNE_EPOCHS and
# PRETRAIN_EPOCHS cap training; ROWS picks rows (default: "zero cnn pre ssl head tuned").
set -euo pipefail
bin=$(realpath "${1:-build/saxdetect}")
train_songs=${2:-120}
test_songs=${3:-30}
sizes=${4:-100 300 all}
epochs=${EPOCHS:-25}
fine_tune_epochs=${FINE_TUNE_EPOCHS:-8}
pretrain_epochs=${PRETRAIN_EPOCHS:-5}
rows=" ${ROWS:-zero cnn pre ssl head tuned} "
wanted() { [[ $rows == *" $1 "* ]]; }
here=$(cd "$(dirname "$0")" && pwd)
yamnet="$here/../../shared/models/yamnet/yamnet.tflite"
[ -f "$yamnet" ] || { echo "no $yamnet: the YAMNet rows need ../shared" >&2; exit 1; }
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else
  work=$(mktemp -d /tmp/saxdetect-transfer.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
train_home=$work/home pre_home=$work/prehome test_home=$work/musehome

sd() { "$bin" --quiet "$@"; }

# A library rendered with one soundfont, ingested into a home with its truth as labels.
library() {  # folder home songs seed soundfont
  [ -f "$2/saxdetect.db" ] && return
  sd synth --out "$1" --songs "$3" --seed "$4" --soundfont "$5"
  sd --home "$2" ingest "$1"
  sd --home "$2" labels import --from-truth "$1/truth.json"
  sd --home "$2" backbone import "$yamnet" >/dev/null
}
echo "== libraries (train: FluidR3 x $train_songs, unseen: MuseScore x $test_songs, pretraining: FluidR3 x 60 others)" >&2
library "$work/fluid" "$train_home" "$train_songs" 11 /usr/share/sounds/sf2/FluidR3_GM.sf2
library "$work/muse" "$test_home" "$test_songs" 22 /usr/share/sounds/sf3/MuseScore_General_Full.sf3
library "$work/pre" "$pre_home" 60 33 /usr/share/sounds/sf2/FluidR3_GM.sf2

# Held-out metrics from model.json, unseen-timbre metrics from assess: one table row.
row() {  # label size seconds model-dir
  local assessed
  assessed=$(sd --home "$test_home" assess --model "$4" --json)
  python3 - "$1" "$2" "$3" "$4/model.json" "$assessed" <<'PY'
import json, sys
label, size, seconds, model_json, assessed = sys.argv[1:]
m = json.load(open(model_json))
held = m["metrics"]["test"]
unseen = json.loads(assessed)["metrics"]
n = m["samples"]["train"]
print(f"| {label} | {n} | {held['accuracy']:.3f} | {held['balanced_accuracy']:.3f} | "
      f"{held['roc_auc']:.3f} | {unseen['accuracy']:.3f} | {unseen['balanced_accuracy']:.3f} | "
      f"{unseen['roc_auc']:.3f} | {seconds} |")
PY
}

# Trains one model (extra train flags after the config) and prints its row.
train_row() {  # label size name config-json [flags...]
  local label=$1 size=$2 name=$3 config=$4 limit=0 start
  shift 4
  [ "$size" = all ] || limit=$size
  echo "$config" | python3 -c "import json,sys; c=json.load(sys.stdin); c['train_limit']=$limit; print(json.dumps(c))" >"$work/$name.json"
  rm -rf "$train_home/models/$name"
  start=$(date +%s)
  sd --home "$train_home" train --config "$work/$name.json" --out "$name" "$@" >/dev/null
  row "$label" "$size" "$(($(date +%s) - start))" "$train_home/models/$name"
}

echo "== pretraining the CNN on the 60 other songs (with their labels; and without: contrastive)" >&2
if wanted pre && [ ! -f "$pre_home/models/pretrained/model.json" ]; then
  echo "{\"kind\": \"cnn\", \"epochs\": $epochs}" >"$work/pretrain.json"
  sd --home "$pre_home" train --config "$work/pretrain.json" --out pretrained >/dev/null
fi
if wanted ssl && [ ! -f "$pre_home/models/contrastive/model.json" ]; then
  start=$(date +%s)
  sd --home "$pre_home" pretrain --epochs "$pretrain_epochs" --out contrastive >&2
  echo "contrastive pretraining: $(($(date +%s) - start)) s" >&2
fi

echo "| model | train labels | held-out acc | held-out bal acc | held-out ROC-AUC | unseen acc | unseen bal acc | unseen ROC-AUC | train s |"
echo "|---|---|---|---|---|---|---|---|---|"
if wanted zero; then
  # A copy: calibrating rewrites the file, and the embedding cache is keyed by its content.
  cp "$train_home/models/yamnet.pt" "$work/zero-shot.pt"
  sd --home "$train_home" backbone calibrate --model "$work/zero-shot.pt" >/dev/null
  zero=$(sd --home "$test_home" assess --zero-shot yamnet --model "$work/zero-shot.pt" --json)
  python3 - "$zero" <<'PY'
import json, sys
m = json.loads(sys.argv[1])["metrics"]
print(f"| zero-shot YAMNet (threshold from the train labels) | 0 | | | | {m['accuracy']:.3f} | "
      f"{m['balanced_accuracy']:.3f} | {m['roc_auc']:.3f} | 0 |")
PY
fi
for size in $sizes; do
  wanted cnn && train_row "CNN from scratch" "$size" "cnn-$size" "{\"kind\": \"cnn\", \"epochs\": $epochs}"
  wanted pre && train_row "CNN pretrained on synth labels, fine-tuned" "$size" "pre-$size" \
    "{\"kind\": \"cnn\", \"epochs\": $epochs, \"lr\": 3e-4, \"init\": \"$pre_home/models/pretrained\"}"
  wanted ssl && train_row "CNN pretrained self-supervised (contrastive), fine-tuned" "$size" \
    "ssl-$size" "{\"kind\": \"cnn\", \"epochs\": $epochs, \"init\": \"$pre_home/models/contrastive\"}"
  wanted head && train_row "YAMNet + new head (frozen)" "$size" "head-$size" \
    "{\"epochs\": 40, \"patience\": 10}" --backbone yamnet
  wanted tuned && train_row "YAMNet fine-tuned (layers 13-14)" "$size" "tuned-$size" \
    "{\"epochs\": $fine_tune_epochs, \"lr\": 3e-4}" --backbone yamnet --freeze 12
done
