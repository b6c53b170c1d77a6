#!/usr/bin/env bash
# Evidence for issue 4, fine-tuning: a model trained by bench/train-synth.sh is fine-tuned on a synthetic
# cell imaged differently (more noise, a wider PSF, stronger contrast drift and curtaining), SPEC §4 style:
# one ground-truth region of the new cell, the same hyper-parameters, a few hundred steps; validation on
# another region of that cell before (the starting weights) and after.
#
#   bash bench/finetune-synth.sh [WORKDIR] [RUN[:STEP]]
#
# WORKDIR as for bench/train-synth.sh (default $TMPDIR/organelle-train-synth); RUN defaults to the run
# that `bash bench/train-synth.sh WORKDIR` makes with its defaults, STEP to its best checkpoint.
# Environment: STEPS (200), EVERY (50), NOISE (40; the training cells have 12), BLUR (10,8,8 nm; 5,4,4),
# DRIFT (4; 1), CURTAIN (3; 1), LR (the training run's, 5e-4).
#
# Target cell: seed 14, 3 um at 10 nm, trained at its 20 nm level like the source run. Fine-tuning ROI:
# z 0-1.4 um; validation ROI: z 1.6-3 um (inside the cell mask).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-${TMPDIR:-/tmp}/organelle-train-synth}"
mkdir -p "$WORK" && WORK="$(cd "$WORK" && pwd)" # absolute: the config's paths are relative to the config file
FROM="${2:-$WORK/runs/full-100-20nm-lr5e-4-b1-rej0.9-cells11+13}"
STEPS="${STEPS:-200}"
EVERY="${EVERY:-50}"
NOISE="${NOISE:-40}"
BLUR="${BLUR:-10,8,8}"
DRIFT="${DRIFT:-4}"
CURTAIN="${CURTAIN:-3}"
LR="${LR:-5e-4}"
ORG=(node bin/organelle.mjs)
[ -f dist/organelle.mjs ] || node scripts/build.mjs
[ -f "${FROM%%:*}/run.json" ] || { echo "no training run at ${FROM%%:*}: run bash bench/train-synth.sh $WORK first" >&2; exit 1; }

TARGET="target-n${NOISE}-b${BLUR//,/x}-d${DRIFT}-c${CURTAIN}.zarr"
if [ ! -d "$WORK/$TARGET" ]; then
  echo "synthesising $TARGET (seed 14; noise $NOISE, blur $BLUR nm, drift $DRIFT, curtain $CURTAIN)"
  ORGANELLE_QUIET=1 "${ORG[@]}" synth "$WORK/$TARGET" --size-um 3 --voxel-size 10 --seed 14 \
    --organelles mito,er,nucleus,nuclear_envelope,golgi,vesicle --no-pyramid \
    --noise "$NOISE" --blur "$BLUR" --drift "$DRIFT" --curtain "$CURTAIN" >/dev/null
fi
for a in raw labels/mito masks/cell; do
  [ -d "$WORK/$TARGET/$a/s1" ] || ORGANELLE_QUIET=1 "${ORG[@]}" pyramid "$WORK/$TARGET" "$a" >/dev/null
done
roi() { # name role roi
  if ! "${ORG[@]}" gt rois "$WORK/$TARGET" mito --json | grep -q "\"$1\""; then
    "${ORG[@]}" gt add-roi "$WORK/$TARGET" mito --name "$1" --role "$2" --roi "$3" >/dev/null
  fi
}
roi target-z0-1.4um training 0,0,0:1400,3000,3000
roi target-z1.6-3um validation 1600,0,0:1400,3000,3000

RUN="$WORK/runs/finetune-$(basename "${FROM%%:*}")-${TARGET%.zarr}-lr${LR}"
CONFIG="$WORK/$(basename "$RUN").yaml"
mkdir -p "$(dirname "$RUN")"
cat >"$CONFIG" <<EOF
organelle: mito
run_dir: $RUN
voxel_size: 20
seed: 1
training: { steps: $STEPS, checkpoint_every: $EVERY, validate_every: $EVERY, learning_rate: $LR }
sources:
  - dataset: $TARGET
validation:
  - dataset: $TARGET
    name: target-z1.6-3um
engine: { device: cpu, threads: 2 }
EOF
echo "config: $CONFIG (from $FROM)"
start=$(date +%s)
"${ORG[@]}" finetune --from "$FROM" "$CONFIG"
end=$(date +%s)
node bench/train-synth-summary.mjs "$RUN" "$((end - start))"
