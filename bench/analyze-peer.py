#!/usr/bin/python3
"""scipy / skimage side of bench/analyze.ts: refine (threshold + connected components + size filter)
and measure (volume, centroid, bounding box, marching-cubes surface area) of a uint8 prediction.

usage: analyze-peer.py PRED.u8 Z Y X VOXEL_NM MIN_VOXELS OUT.csv
  Reads the prediction, runs once and prints one JSON line:
  {"refine_s", "measure_s", "total_s", "cpu_s", "refine_cpu_s", "measure_cpu_s", "objects", "voxels"}
  (time.perf_counter /
  time.process_time around the calls), and writes per object id, voxels, centroid z y x (voxels),
  bbox min z y x, max z y x (exclusive), and the marching-cubes area (nm^2) to OUT.csv for the
  comparison. Single-threaded (these scipy.ndimage / skimage functions have no threads).

  refine:  fg = pred >= 128; skimage.morphology.remove_small_objects(fg, MIN_VOXELS, connectivity=1);
           scipy.ndimage.label (6-connected)
  measure: skimage.measure.regionprops -> area, centroid, bbox; per object
           skimage.measure.marching_cubes(pad(region.image), 0.5, spacing) + mesh_surface_area
"""
import json
import sys
import time

import numpy as np
import scipy.ndimage as ndi
from skimage.measure import marching_cubes, mesh_surface_area, regionprops
from skimage.morphology import remove_small_objects


def main():
    path, z, y, x, vs, min_voxels, out = sys.argv[1:8]
    shape = (int(z), int(y), int(x))
    vs = float(vs)
    pred = np.fromfile(path, dtype=np.uint8).reshape(shape)
    t0 = time.perf_counter()
    c0 = time.process_time()
    fg = pred >= 128
    fg = remove_small_objects(fg, int(min_voxels), connectivity=1)
    labels, n = ndi.label(fg)
    t1 = time.perf_counter()
    c1 = time.process_time()
    rows = []
    for r in regionprops(labels):
        verts, faces, _, _ = marching_cubes(np.pad(r.image, 1).astype(np.uint8), 0.5, spacing=(vs, vs, vs))
        area = mesh_surface_area(verts, faces)
        rows.append((r.label, int(r.area), *r.centroid, *r.bbox, area))
    t2 = time.perf_counter()
    c2 = time.process_time()
    with open(out, "w") as f:
        for row in rows:
            f.write(",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in row) + "\n")
    print(
        json.dumps(
            {
                "refine_s": t1 - t0,
                "measure_s": t2 - t1,
                "total_s": t2 - t0,
                "cpu_s": c2 - c0,
                "refine_cpu_s": c1 - c0,
                "measure_cpu_s": c2 - c1,
                "objects": int(n),
                "voxels": int(fg.sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
