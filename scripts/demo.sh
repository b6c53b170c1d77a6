#!/usr/bin/env bash
# The main job end to end on a fresh clone: install, build, synthesise an EM-like cell with exact
# ground truth, look at what was written, round-trip it through TIFF; then train a mitochondria network
# briefly on synthetic cells, predict a naive cell with it, evaluate the prediction against the ground
# truth and export the segmentation to TIFF; refine, measure and mesh the mitochondria, measure contact
# sites, write an HTML report, and finally serve it all to the browser (the URL is printed; Ctrl-C
# stops). About 6 minutes on 2 free cores before the server starts.
#
#   npm run demo                 (SKIP_SETUP=1 skips scripts/setup.sh on a machine already set up;
#                                 DEMO_SERVE=0 ends without serving; PORT=N serves on another port)
#
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
node scripts/build.mjs

out=demo-output
mkdir -p "$out"
organelle() { node bin/organelle.mjs "$@"; }
t0=$(date +%s)
step() { echo; echo "== $1  [$(($(date +%s) - t0)) s]"; }

step "1. synthesise a cell (2 um at 5 nm voxels, seed 1) with exact labels for every organelle"
organelle synth "$out/cell.zarr" --seed 1 --voxel-size 5 --overwrite --preview "$out/cell-slice.png"

step "2. what is in it"
organelle info "$out/cell.zarr"

step "3. export raw to a TIFF stack and import it back (as a user brings in FIB-SEM slices)"
rm -rf "$out/tiff"
organelle export "$out/cell.zarr" "$out/tiff" --layout slices
organelle import "$out/tiff" "$out/imported.zarr" --voxel-size 5 --overwrite
organelle info "$out/imported.zarr"

# Training, prediction and evaluation work in $train: the cells of bench/train-synth.sh (3 um at 10 nm:
# training cells seeds 11 and 13, naive cell seed 12), trained and predicted at their 20 nm level.
train="$out/train"
naive="$train/naive.zarr"

step "4. train a mitochondria U-Net briefly (small CPU preset, 2 synthetic training cells, 20 nm; the full run is bench/train-synth.sh)"
rm -rf "$train/runs/demo"
DEMO=1 RUN="$train/runs/demo" bash bench/train-synth.sh "$train"

step "5. predict the whole naive cell (seed 12, never seen in training) inside its cell mask"
organelle predict "$train/runs/demo" "$naive" --name demo --overwrite

step "6. evaluate: precision, recall, F1 (= Dice), IoU over the whole naive cell inside its mask"
organelle evaluate "$naive" --pred predictions/demo/mito --roi all --plot "$out/naive-evaluation.png"

step "7. export the segmentation (and the probabilities) to multi-page TIFF"
organelle export "$naive" "$out/naive-mito-seg.tif" --array predictions/demo/mito/seg --overwrite
organelle export "$naive" "$out/naive-mito-prob.tif" --array predictions/demo/mito/prob --overwrite

step "8. refine the predicted mitochondria into instances; measure them, the true mitochondria and the ER, and their contact sites; mesh the instances"
# The prediction lives on the 20 nm grid and masks/cell on the 10 nm one: the predicted instances are
# measured without the cell fraction; each array gets its own table.
organelle refine "$naive" --input predictions/demo/mito/prob --organelle mito --overwrite
organelle measure "$naive" segmentations/mito --no-cell-mask --table tables/mito_predicted.csv
organelle measure "$naive" labels/mito
organelle measure "$naive" labels/er
organelle contacts "$naive" labels/mito labels/er --distance 20 --overwrite
organelle mesh "$naive" segmentations/mito --table tables/mito_predicted.csv --glb-scene "$out/naive-mito.glb"

step "9. report of the naive cell (tables and plots in one HTML page)"
organelle report "$naive" --out "$out/report.html"

step "done"
echo "preview slice:            $out/cell-slice.png"
echo "training run (plots, summary.html): $train/runs/demo"
echo "evaluation plot:          $out/naive-evaluation.png"
echo "segmentation TIFF:        $out/naive-mito-seg.tif (probabilities: $out/naive-mito-prob.tif)"
echo "meshes (glTF):            $out/naive-mito.glb"
echo "report:                   $out/report.html"

# Last: serve everything to the browser (DEMO_SERVE=0 skips it, e.g. in scripts).
if [ "${DEMO_SERVE:-1}" = 1 ]; then
  port="${PORT:-8321}"
  step "10. serve the demo datasets: portal, viewer, 3D meshes, dashboards, annotator"
  echo "the naive cell in the browser: http://127.0.0.1:$port/#/d/train%2Fnaive.zarr"
  exec node bin/organelle.mjs serve "$out" --port "$port"
fi

