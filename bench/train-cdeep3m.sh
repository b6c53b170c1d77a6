#!/usr/bin/env bash
# Evidence for issue 4 on real data: a U-Net with anisotropic downsampling learns mitochondria on the CDeep3M
# SBEM sample (../shared/data/cdeep3m-mito: training/ 20 slices, validation/ 10 slices of 1024 x 1024 px,
# 40 x 5.9 x 5.9 nm) and is scored on validation/ with organelle evaluate. Results: bench/README-train-cdeep3m.md.
#
#   bash bench/train-cdeep3m.sh [WORKDIR]
#
# Environment: STEPS (default 1000), EVERY (checkpoint + validation, default 50), LR (default 1e-3), NORM
# (normalisation after each convolution: batch, as the small preset, or none, as ASEM), NICE
# (default 10: others time work on the same cores), MINUTES (default 22: training is interrupted with SIGINT
# after this wall time; organelle train then stops after the current step with a checkpoint, and the same
# command continues the run later; --foreground so that only organelle gets the signal: the engine
# subprocess must not see a SIGINT meant for its parent), THREADS (engine threads, default 1: under nice on
# cores other jobs keep busy, a second torch thread mostly waits at barriers; 1 thread took 0.76 CPU-seconds
# per step against 2.8 with 2).
#
# The data is read from the shared folder and imported into WORKDIR (never into the repository). Its label PNGs
# are 8-bit palette images (index 0/1), which organelle's slice reader refuses (greyscale only), so they are
# converted to greyscale PNGs with /usr/bin/python3 (Pillow) first.
#
# Network: the `small` preset's layout (2 downsamplings, two convolutions per level, 2-class softmax) at 12 fmaps
# x2, with downsampling (1,2,2),(1,2,2): the slices are 40 nm apart, so pooling z would merge 80 nm at the first
# level. The two upper levels convolve in-plane only (1x3x3), the bottom level with 3x3x3: 9 slices in, 5 out,
# 2 slices of z context per side (the validation stack has only 10 slices). Input 9 x 132 x 132 -> output
# 5 x 92 x 92, 20 px of in-plane context.
#
# Resolution: trained and scored at the first pyramid level, 40 x 11.8 x 11.8 nm (raw: mean, labels: mode of
# 2x2 pixels). At 5.9 nm the 41 px receptive field spans 240 nm, less than a mitochondrion's width, and a train
# step costs 4x more; on the 2 shared cores of the development VM that left ~0.15 steps/s.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-${TMPDIR:-/tmp}/organelle-cdeep3m}"
DATA="${DATA:-$(cd .. && pwd)/shared/data/cdeep3m-mito}"
STEPS="${STEPS:-1000}"
EVERY="${EVERY:-50}"
MINUTES="${MINUTES:-22}"
THREADS="${THREADS:-1}"
LR="${LR:-1e-3}"
NORM="${NORM:-batch}"
NICE="${NICE:-10}"
RUN="$WORK/runs/mito-aniso-lr$LR-t$THREADS-norm$NORM"
ORG=(node bin/organelle.mjs)
[ -f dist/organelle.mjs ] || node scripts/build.mjs
mkdir -p "$WORK"

# The label PNGs are palette images: rewritten as greyscale with Debian's Pillow (installed when missing).
if ! /usr/bin/python3 -c "import PIL, numpy" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pil python3-numpy >/dev/null
  else
    echo "train-cdeep3m: needs Debian's python3-pil and python3-numpy: sudo apt-get install python3-pil python3-numpy" >&2
    exit 1
  fi
fi

greyscale_labels() { # src dst
  [ -d "$2" ] && return
  mkdir -p "$2.tmp"
  /usr/bin/python3 - "$1" "$2.tmp" <<'EOF'
import os, sys
import numpy as np
from PIL import Image
src, dst = sys.argv[1:]
for f in sorted(os.listdir(src)):
    a = np.array(Image.open(os.path.join(src, f)))  # palette PNG: the index is the label
    Image.fromarray((a != 0).astype(np.uint8), "L").save(os.path.join(dst, f))
EOF
  mv "$2.tmp" "$2"
}
dataset() { # part name z-chunk
  local ds="$WORK/$2.zarr"
  [ -d "$ds/raw" ] || "${ORG[@]}" import "$DATA/$1/images" "$ds" --voxel-size 40,5.9,5.9 --chunks "$3,128,128"
  greyscale_labels "$DATA/$1/labels" "$WORK/labels-$1"
  [ -d "$ds/labels/mito" ] || "${ORG[@]}" gt import "$WORK/labels-$1" "$ds" mito --ids 1
  [ -d "$ds/labels/mito/s1" ] || "${ORG[@]}" pyramid "$ds" labels/mito
}
dataset training train 20
dataset validation val 10
# Validation during training: the central 512 x 512 px (5.9 nm) of the 10 validation slices (a quarter of
# validation/, to keep each validation short); the final score below is over the whole of validation/.
if ! "${ORG[@]}" gt rois "$WORK/val.zarr" mito --json | grep -q '"centre"'; then
  "${ORG[@]}" gt add-roi "$WORK/val.zarr" mito --name centre --role validation --voxels 0,256,256:10,512,512 >/dev/null
fi

CONFIG="$WORK/$(basename "$RUN").yaml"
cat >"$CONFIG" <<EOF
organelle: mito
model:
  spec:
    version: 1
    inChannels: 1
    fmaps: 12
    fmapIncrease: 2
    downsample: [[1, 2, 2], [1, 2, 2]]
    kernels: [[[1, 3, 3], [1, 3, 3]], [[1, 3, 3], [1, 3, 3]], [[3, 3, 3], [3, 3, 3]]]
    headKernel: [1, 1, 1]
    upsampling: nearest
    head: softmax2
    outChannels: 2
    padding: valid
    norm: $NORM
  input_shape: [9, 132, 132]
voxel_size: [40, 11.8, 11.8]
run_dir: $RUN
seed: 1
training: { steps: $STEPS, checkpoint_every: $EVERY, validate_every: $EVERY, learning_rate: $LR }
sources:
  - dataset: train.zarr
    rois: all
    mask: none
validation:
  - dataset: val.zarr
    mask: none
engine: { device: cpu, threads: $THREADS }
EOF

start=$(date +%s)
timeout --foreground --signal=INT --kill-after=120 "${MINUTES}m" nice -n "$NICE" "${ORG[@]}" train "$CONFIG" || [ $? = 124 ]
end=$(date +%s)
echo "training wall time: $((end - start)) s"
"${ORG[@]}" models "$RUN"

# The whole of validation/ (10 x 1024 x 1024 at 5.9 nm = 10 x 512 x 512 at s1), best checkpoint by validation F1 on the centre ROI.
nice -n "$NICE" "${ORG[@]}" evaluate "$WORK/val.zarr" --model "$RUN" --roi all --no-mask \
  --csv "$WORK/eval-validation.csv" --plot "$WORK/eval-validation.png"

# The model as a bioimage.io package, checked independently and installed.
nice -n "$NICE" "${ORG[@]}" export-model "$RUN" --out "$WORK/mito-cdeep3m-sbem.zip" --name mito-cdeep3m-sbem --overwrite \
  --description "Mitochondria in SBEM of mouse brain (CDeep3M sample, 40 x 11.8 x 11.8 nm), anisotropic U-Net trained with organelle"
nice -n "$NICE" /usr/bin/python3 test/model-package-check.py "$WORK/mito-cdeep3m-sbem.zip"
"${ORG[@]}" import-model "$WORK/mito-cdeep3m-sbem.zip" --into "$WORK/models" --overwrite
