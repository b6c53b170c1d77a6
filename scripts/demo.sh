#!/usr/bin/env bash
# The main job end to end on a fresh clone: install, build, synthesise an EM-like cell with exact
# ground truth, look at what was written, round-trip it through TIFF, and build pyramids.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs

out=demo-output
mkdir -p "$out"
organelle() { node bin/organelle.mjs "$@"; }

echo "== 1. synthesise a cell (5 nm voxels, seed 1)"
organelle synth "$out/cell.zarr" --seed 1 --voxel-size 5 --overwrite --preview "$out/cell-slice.png"

echo "== 2. what is in it"
organelle info "$out/cell.zarr"

echo "== 3. export raw to a TIFF stack and import it back (as a user brings in FIB-SEM slices)"
rm -rf "$out/tiff"
organelle export "$out/cell.zarr" "$out/tiff" --layout slices
organelle import "$out/tiff" "$out/imported.zarr" --voxel-size 5 --overwrite
organelle info "$out/imported.zarr"

echo "== done: preview slice at $out/cell-slice.png"
