#!/usr/bin/env bash
# Evidence for issue 4: a small CPU preset learns mitochondria on synthetic cells and is validated on a
# hold-out block of a training cell and on a naive synthetic cell (another seed). Target: F1 >= 0.90 on the
# whole naive cell (inside its cell mask) within 15 minutes on 2 cores.
#
#   bash bench/train-synth.sh [WORKDIR]          the full run (150 steps, validated every 30)
#   DEMO=1 bash bench/train-synth.sh [WORKDIR]   the short version for the demo (90 steps, hold-out only)
#
# Environment overrides (defaults = the reported configuration): STEPS, EVERY (checkpoint + validation
# interval), LR (5e-4), BATCH (1), INPUT (100: network input edge in voxels), VOXEL (20 nm), REJECT_BG
# (SPEC's 0.9), CELLS ("11 13": seeds of the training cells), BALANCE (loss.balance: none; block is
# ASEM's), RAW_INTERP (augment.elastic.raw_interpolation: nearest; linear is gunpowder's), RUN (run
# directory).
#
# Cells: 3 um at 10 nm (300^3 voxels) with mitochondria, ER, nucleus + envelope, Golgi and vesicles as
# distractors; training runs on their first pyramid level (20 nm). Training data: z 0-2 um of cell 11 and
# the whole of cell 13 (SPEC §4: ground truth of more cells generalises better). Validation: z 2-2.8 um,
# y/x 0.9-2.1 um of cell 11 (hold-out), the central 1.2 um cube of the naive cell 12 (naive-centre: 21 %
# nucleus against ~4 % of the cell, the hardest place) and the whole naive cell inside its mask
# (naive-cell: the criterion).
#
# Why these settings (see bench/README-train.md): the input of 100 voxels at 20 nm gives a 60^3 output
# block of 1.2 um, the physical size of ASEM's 114^3 output at 10 nm that SPEC's foreground rejection
# (< 5 % -> reject with p 0.9) was made for. With the small preset's own 28^3 output (0.56 um), nearly
# every block touching the nucleus has < 5 % mitochondria and is rejected: the network then sees the
# nucleus 5x less often than it occurs and calls heterochromatin and the nuclear envelope mitochondria.
# The learning rate is raised from ASEM's 3e-5 (tuned for 100k+ GPU steps) to fit minutes of CPU.
# The small preset normalises (batch normalisation: its loss falls in tens of steps, not thousands); the
# loss is not class-balanced (balanced weights make an unsure network call every voxel with a few per
# cent chance of being mitochondrion, recall 1.0 and precision 0.3-0.6 at 0.5 in 150 steps) and raw is
# resampled nearest through the elastic transform (linear interpolation smooths the noise the network
# then meets unsmoothed at prediction). bench/README-train.md has the runs that chose these.
#
# Prints the validation F1 per checkpoint with wall time and CPU time of the trainer + engine (on a shared
# machine wall time depends on the other load; CPU time / 2 is the wall time on 2 free cores), and the
# first checkpoint whose naive-cell F1 reaches 0.90. The run directory holds plots/ and summary.html.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-${TMPDIR:-/tmp}/organelle-train-synth}"
mkdir -p "$WORK" && WORK="$(cd "$WORK" && pwd)" # absolute: the config's paths are relative to the config file
LR="${LR:-5e-4}"
BATCH="${BATCH:-1}"
INPUT="${INPUT:-100}"
VOXEL="${VOXEL:-20}"
REJECT_BG="${REJECT_BG:-0.9}"
CELLS="${CELLS:-11 13}"
BALANCE="${BALANCE:-none}"
RAW_INTERP="${RAW_INTERP:-nearest}"
# The demo validates on the hold-out block only: it predicts and evaluates the naive cell itself after.
VALIDATION=$'\n  - dataset: train.zarr\n    name: holdout'
if [ "${DEMO:-0}" = 1 ]; then
  STEPS="${STEPS:-90}"
  EVERY="${EVERY:-90}"
  NAME=demo
else
  VALIDATION+=$'\n  - dataset: naive.zarr\n    name: naive-centre\n  - dataset: naive.zarr\n    name: naive-cell\n    rois: all'
  STEPS="${STEPS:-150}"
  EVERY="${EVERY:-30}"
  NAME=full
fi
RUN="${RUN:-$WORK/runs/$NAME-${INPUT}-${VOXEL}nm-lr${LR}-b${BATCH}-rej${REJECT_BG}-cells${CELLS// /+}-bal${BALANCE}-${RAW_INTERP}}"
case "$RUN" in /*) ;; *) RUN="$PWD/$RUN" ;; esac
ORG=(node bin/organelle.mjs)
[ -f dist/organelle.mjs ] || node scripts/build.mjs
mkdir -p "$WORK"

cell() { # name seed
  if [ ! -d "$WORK/$1" ]; then
    echo "synthesising $1 (seed $2, 3 um at 10 nm)"
    ORGANELLE_QUIET=1 "${ORG[@]}" synth "$WORK/$1" --size-um 3 --voxel-size 10 --seed "$2" \
      --organelles mito,er,nucleus,nuclear_envelope,golgi,vesicle --no-pyramid >/dev/null
  fi
  if [ "$VOXEL" != 10 ]; then
    for a in raw labels/mito masks/cell; do
      [ -d "$WORK/$1/$a/s1" ] || ORGANELLE_QUIET=1 "${ORG[@]}" pyramid "$WORK/$1" "$a" >/dev/null
    done
  fi
}
roi() { # dataset name role roi
  if ! "${ORG[@]}" gt rois "$WORK/$1" mito --json | grep -q "\"$2\""; then
    "${ORG[@]}" gt add-roi "$WORK/$1" mito --name "$2" --role "$3" --roi "$4" >/dev/null
  fi
}
cell train.zarr 11
cell naive.zarr 12
roi train.zarr train-z0-2um training 0,0,0:2000,3000,3000
roi train.zarr holdout validation 2000,900,900:800,1200,1200
roi naive.zarr naive-centre validation 900,900,900:1200,1200,1200

SOURCES=""
for seed in $CELLS; do
  if [ "$seed" = 11 ]; then
    SOURCES+=$'\n  - dataset: train.zarr'
  else
    cell "train-$seed.zarr" "$seed"
    SOURCES+=$'\n'"  - { dataset: train-$seed.zarr, rois: all }"
  fi
done

CONFIG="$WORK/$(basename "$RUN").yaml"
cat >"$CONFIG" <<EOF
organelle: mito
model: { preset: small, input_shape: [$INPUT, $INPUT, $INPUT] }
run_dir: $RUN
voxel_size: $VOXEL
seed: 1
training: { steps: $STEPS, batch_size: $BATCH, checkpoint_every: $EVERY, validate_every: $EVERY, learning_rate: $LR }
sampling: { reject_background_probability: $REJECT_BG }
loss: { balance: $BALANCE }
augment: { elastic: { raw_interpolation: $RAW_INTERP } }
sources:$SOURCES
validation:$VALIDATION
engine: { device: cpu, threads: 2 }
EOF
echo "config: $CONFIG"

start=$(date +%s)
"${ORG[@]}" train "$CONFIG"
end=$(date +%s)
"${ORG[@]}" models "$RUN"
node bench/train-synth-summary.mjs "$RUN" "$((end - start))"
