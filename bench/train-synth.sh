#!/usr/bin/env bash
# Evidence for issue 4: a small CPU preset learns mitochondria on one synthetic cell and is validated on a
# hold-out block of that cell and on a naive synthetic cell (another seed). Target: validation F1 >= 0.90 on
# the naive cell within 15 minutes on 2 cores.
#
#   bash bench/train-synth.sh [WORKDIR]          the full run (STEPS, default 600; LR, default 1e-3)
#   DEMO=1 bash bench/train-synth.sh [WORKDIR]   the short version for the demo (a few minutes)
#
# Cells: 3 um at 10 nm (300^3 voxels), seeds 11 (training) and 12 (naive), mitochondria + ER, nucleus,
# Golgi and vesicles as distractors. Training ROI: z 0-2 um of cell 11; validation: z 2-2.8 um, y/x 0.9-2.1 um
# of cell 11 (hold-out), the central 1.2 um cube of cell 12 (naive-centre: 21 % nucleus, against 2 % of the
# cell, so the hardest place) and the whole of cell 12 inside its cell mask (naive-cell, the criterion). The learning rate is raised from
# ASEM's 3e-5 (tuned for 100k+ steps on a GPU) to fit a CPU budget of minutes; everything else is SPEC §4.
# Prints the validation F1 per checkpoint (both ROIs), the time the naive cell first reached 0.90 — wall
# time and CPU time of the trainer and engine (on a shared machine wall time depends on the other load;
# CPU-minutes / 2 is the wall time on 2 free cores) — and the step rate; the run directory holds plots/
# and summary.html.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-${TMPDIR:-/tmp}/organelle-train-synth}"
if [ "${DEMO:-0}" = 1 ]; then
  STEPS="${STEPS:-150}"
  EVERY="${EVERY:-50}"
  RUN="$WORK/runs/demo-${INPUT:-68}-${VOXEL:-10}nm-lr${LR:-1e-3}-b${BATCH:-1}-rej${REJECT_BG:-0.9}"
else
  STEPS="${STEPS:-600}"
  EVERY="${EVERY:-100}"
  RUN="$WORK/runs/full-${INPUT:-68}-${VOXEL:-10}nm-lr${LR:-1e-3}-b${BATCH:-1}-rej${REJECT_BG:-0.9}"
fi
LR="${LR:-1e-3}"
INPUT="${INPUT:-68}"   # network input edge (voxels): 68 is the small preset's own; 100 gives a 60^3 output
VOXEL="${VOXEL:-10}"   # training voxel size (nm): 10 (the data's), or 20 (its first pyramid level)
BATCH="${BATCH:-1}"
REJECT_BG="${REJECT_BG:-0.9}"   # sampling.reject_background_probability (SPEC: 0.9)
ORG=(node bin/organelle.mjs)
[ -f dist/organelle.mjs ] || node scripts/build.mjs
mkdir -p "$WORK"

cell() { # name seed
  if [ ! -d "$WORK/$1" ]; then
    ORGANELLE_QUIET=1 "${ORG[@]}" synth "$WORK/$1" --size-um 3 --voxel-size 10 --seed "$2" \
      --organelles mito,er,nucleus,nuclear_envelope,golgi,vesicle --no-pyramid >/dev/null
  fi
}
roi() { # dataset name role roi
  if ! "${ORG[@]}" gt rois "$WORK/$1" mito --json | grep -q "\"$2\""; then
    "${ORG[@]}" gt add-roi "$WORK/$1" mito --name "$2" --role "$3" --roi "$4" >/dev/null
  fi
}
cell train.zarr 11
cell naive.zarr 12
if [ "$VOXEL" != 10 ]; then
  for ds in train.zarr naive.zarr; do
    for a in raw labels/mito masks/cell; do
      [ -d "$WORK/$ds/$a/s1" ] || ORGANELLE_QUIET=1 "${ORG[@]}" pyramid "$WORK/$ds" "$a" >/dev/null
    done
  done
fi
roi train.zarr train-z0-2um training 0,0,0:2000,3000,3000
roi train.zarr holdout validation 2000,900,900:800,1200,1200
roi naive.zarr naive-centre validation 900,900,900:1200,1200,1200

CONFIG="$WORK/$(basename "$RUN").yaml"
cat >"$CONFIG" <<EOF
organelle: mito
model: { preset: small, input_shape: [$INPUT, $INPUT, $INPUT] }
run_dir: $RUN
voxel_size: $VOXEL
seed: 1
training: { steps: $STEPS, batch_size: $BATCH, checkpoint_every: $EVERY, validate_every: $EVERY, learning_rate: $LR }
sampling: { reject_background_probability: $REJECT_BG }
sources:
  - dataset: train.zarr
validation:
  - dataset: train.zarr
    name: holdout
  - dataset: naive.zarr
    name: naive-centre
  - dataset: naive.zarr
    name: naive-cell
    rois: all
engine: { device: cpu, threads: 2 }
EOF

start=$(date +%s)
"${ORG[@]}" train "$CONFIG"
end=$(date +%s)
"${ORG[@]}" models "$RUN"

node - "$RUN" "$((end - start))" <<'EOF'
const fs = require("node:fs");
const [run, wall] = process.argv.slice(2);
const recs = fs.readFileSync(`${run}/metrics.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const vals = recs.filter((r) => r.type === "validation" && !r.label);
const steps = recs.filter((r) => r.type === "train");
const roi = (v, name) => v.rois.find((r) => r.source === name);
const f1 = (v, name) => roi(v, name)?.f1 ?? NaN;
const f3 = (x) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(3));
console.log("\nstep   time(s)  CPU(s)  holdout F1  naive-centre F1  naive-cell F1  (precision / recall)");
for (const v of vals) {
  const c = roi(v, "naive-cell");
  const cpu = v.cpu == null ? "-" : v.cpu.toFixed(0);
  console.log(`${String(v.step).padEnd(6)} ${v.time.toFixed(0).padStart(7)}  ${cpu.padStart(6)}  ${f3(f1(v, "holdout")).padStart(10)}  ${f3(f1(v, "naive-centre")).padStart(15)}  ${f3(f1(v, "naive-cell")).padStart(13)}  (${f3(c?.precision)} / ${f3(c?.recall)})`);
}
const first = vals.find((v) => f1(v, "naive-cell") >= 0.9);
const last = steps.at(-1);
const rate = steps.length ? steps.length / (last.time - steps[0].time + 1e-9) : 0;
console.log(`\nwall time ${wall} s for ${last?.step ?? 0} steps (this process: ${steps.length} steps, ${rate.toFixed(2)} steps/s incl. validation)`);
const cpuMin = (v) => (v.cpu == null ? "?" : (v.cpu / 60).toFixed(1));
console.log(first
  ? `naive cell: F1 first >= 0.90 at step ${first.step}, ${(first.time / 60).toFixed(1)} min after start (${cpuMin(first)} CPU-minutes of trainer + engine): ${f3(f1(first, "naive-cell"))}`
  : `naive cell: F1 never reached 0.90 (best ${f3(Math.max(...vals.map((v) => f1(v, "naive-cell"))))})`);
EOF
