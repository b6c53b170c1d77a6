#!/usr/bin/python3
"""scipy / skimage side of bench/ops-exact.ts: makes the benchmark volume, then serves timing
requests so the TypeScript side can interleave its runs with these (fair on a shared machine).

usage: ops-exact.py OUTDIR SIZE
  writes OUTDIR/mask.u8 and OUTDIR/labels26.u32 (raw little-endian) and prints one JSON line with
  the parameters; then for each operation name read from stdin runs the reference once, timing only
  the call (time.perf_counter), saves its output as OUTDIR/<op>.out the first time, and prints
  {"op": ..., "ms": ...}. Single-threaded (scipy.ndimage and these skimage functions are).
"""
import json
import os
import sys
import time

import numpy as np
import scipy.ndimage as ndi
import skimage.morphology as morph

VOXEL_SIZE = (5.2, 4.0, 4.0)
RADIUS = 16.0  # nm: a ball about 3 voxels across in y/x, 2 in z (ASEM's opening ball(3))
RADIUS_LARGE = 40.0  # nm: exclusion-zone sized
MIN_SIZE = 1000
HOLE_SIZE = 500


def blobby(n, seed=7):
    """Cell-like mask: large smooth blobs, flipped by small blobs (holes, islands) and sparse specks."""
    rng = np.random.default_rng(seed)

    def field(sigma):
        return ndi.gaussian_filter(rng.standard_normal((n, n, n), dtype=np.float32), sigma)

    big = field(6.0)
    big = big > np.quantile(big, 0.65)
    small = field(1.5)
    small = small > np.quantile(small, 0.97)
    specks = rng.random((n, n, n), dtype=np.float32) < 0.002
    return big ^ small ^ specks


def ball(radius, vs):
    ext = [int(np.floor(radius / v)) + 1 for v in vs]
    oz, oy, ox = np.ogrid[-ext[0] : ext[0] + 1, -ext[1] : ext[1] + 1, -ext[2] : ext[2] + 1]
    return (oz * vs[0]) ** 2 + (oy * vs[1]) ** 2 + (ox * vs[2]) ** 2 <= radius * radius


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    mask = blobby(n)
    mask.astype(np.uint8).tofile(os.path.join(out, "mask.u8"))
    b = ball(RADIUS, VOXEL_SIZE)
    bl = ball(RADIUS_LARGE, VOXEL_SIZE)
    s26 = np.ones((3, 3, 3), bool)
    lab26 = ndi.label(mask, s26)[0].astype(np.uint32)
    lab26.tofile(os.path.join(out, "labels26.u32"))

    ops = {
        "edt": lambda: ndi.distance_transform_edt(mask, sampling=VOXEL_SIZE),
        "edt_bg": lambda: ndi.distance_transform_edt(~mask, sampling=VOXEL_SIZE),
        "dilation": lambda: ndi.binary_dilation(mask, b),
        "erosion": lambda: ndi.binary_erosion(mask, b),
        "opening": lambda: ndi.binary_opening(mask, b),
        "closing": lambda: ndi.binary_closing(mask, b),
        "dilation_large": lambda: ndi.binary_dilation(mask, bl),
        "erosion_large": lambda: ndi.binary_erosion(mask, bl),
        "fill_holes": lambda: ndi.binary_fill_holes(mask),
        "fill_small_holes": lambda: morph.remove_small_holes(mask, HOLE_SIZE),
        "label6": lambda: ndi.label(mask)[0],
        "label26": lambda: ndi.label(mask, s26)[0],
        "remove_small": lambda: morph.remove_small_objects(mask, MIN_SIZE),
        "remove_small_labels": lambda: morph.remove_small_objects(lab26, MIN_SIZE),
    }
    print(json.dumps({"voxelSize": VOXEL_SIZE, "radius": RADIUS, "radiusLarge": RADIUS_LARGE,
                      "minSize": MIN_SIZE, "holeSize": HOLE_SIZE, "foreground": float(mask.mean()),
                      "ops": list(ops)}), flush=True)
    saved = set()
    for line in sys.stdin:
        name = line.strip()
        if not name:
            break
        fn = ops[name]
        t0 = time.perf_counter()
        res = fn()
        ms = (time.perf_counter() - t0) * 1000.0
        if name not in saved:
            res = np.ascontiguousarray(res)
            if res.dtype == np.bool_:
                res = res.astype(np.uint8)
            elif res.dtype.kind in "iu":
                res = res.astype(np.uint32)
            res.tofile(os.path.join(out, name + ".out"))
            saved.add(name)
        del res
        print(json.dumps({"op": name, "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
