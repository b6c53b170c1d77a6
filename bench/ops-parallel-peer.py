#!/usr/bin/python3
"""scipy / skimage side of bench/ops-parallel.ts.

usage: ops-parallel-peer.py OUTDIR SIZE
  Makes the cell-like mask of bench/ops-exact.py (its `blobby`, same seed) and writes it to
  OUTDIR/mask.u8; reads the EM-like uint8 volume the TypeScript side wrote to OUTDIR/em.u8; prints
  one JSON line with the parameters. Then for each operation name read from stdin runs the
  reference once, timing only the call (time.perf_counter and time.process_time), saves its output
  as OUTDIR/<op>.out the first time, and prints {"op", "wall_ms", "cpu_ms"}. Single-threaded: these
  scipy.ndimage and skimage functions have no threads.
"""
import importlib.util
import json
import os
import sys
import time

import numpy as np
import scipy.ndimage as ndi
import skimage.morphology as morph
from skimage.exposure import equalize_adapthist
from skimage.util import img_as_ubyte

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("ops_exact", os.path.join(HERE, "ops-exact.py"))
exact = importlib.util.module_from_spec(spec)
spec.loader.exec_module(exact)

VOXEL_SIZE = exact.VOXEL_SIZE
RADIUS = exact.RADIUS
MIN_SIZE = exact.MIN_SIZE
SIGMA_NM = (12.0, 12.0, 12.0)  # bench/ops-data.ts SIGMA_NM


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    mask = exact.blobby(n)
    mask.astype(np.uint8).tofile(os.path.join(out, "mask.u8"))
    em = np.fromfile(os.path.join(out, "em.u8"), dtype=np.uint8).reshape(n, n, n)
    b = exact.ball(RADIUS, VOXEL_SIZE)
    s26 = np.ones((3, 3, 3), bool)
    sigma_vox = [s / v for s, v in zip(SIGMA_NM, VOXEL_SIZE)]

    ops = {
        "edt": ("distance_transform_edt(m, sampling)", lambda: ndi.distance_transform_edt(mask, sampling=VOXEL_SIZE)),
        "dilation": ("binary_dilation(m, ball)", lambda: ndi.binary_dilation(mask, b)),
        "erosion": ("binary_erosion(m, ball)", lambda: ndi.binary_erosion(mask, b)),
        "opening": ("binary_opening(m, ball)", lambda: ndi.binary_opening(mask, b)),
        "closing": ("binary_closing(m, ball)", lambda: ndi.binary_closing(mask, b)),
        "fill_holes": ("binary_fill_holes(m)", lambda: ndi.binary_fill_holes(mask)),
        "remove_small": ("skimage remove_small_objects(m, N)", lambda: morph.remove_small_objects(mask, MIN_SIZE)),
        "label26": ("label(m, ones((3,3,3)))", lambda: ndi.label(mask, s26)[0]),
        "gaussian": (
            "gaussian_filter(em, sigma) uint8",
            lambda: ndi.gaussian_filter(em, sigma_vox, mode="reflect", truncate=4.0),
        ),
        "clahe_k32": (
            "img_as_ubyte(equalize_adapthist(em, 32, 0.01))",
            lambda: img_as_ubyte(equalize_adapthist(em, kernel_size=32, clip_limit=0.01, nbins=256)),
        ),
        "clahe_k128": (
            "img_as_ubyte(equalize_adapthist(em, 128, 0.02))",
            lambda: img_as_ubyte(equalize_adapthist(em, kernel_size=128, clip_limit=0.02, nbins=256)),
        ),
    }
    print(
        json.dumps(
            {
                "voxelSize": VOXEL_SIZE,
                "radius": RADIUS,
                "minSize": MIN_SIZE,
                "foreground": float(mask.mean()),
                "ops": {k: v[0] for k, v in ops.items()},
            }
        ),
        flush=True,
    )
    saved = set()
    for line in sys.stdin:
        name = line.strip()
        if not name:
            break
        fn = ops[name][1]
        c0 = time.process_time()
        t0 = time.perf_counter()
        res = fn()
        wall = (time.perf_counter() - t0) * 1000.0
        cpu = (time.process_time() - c0) * 1000.0
        if name not in saved:
            res = np.ascontiguousarray(res)
            if res.dtype == np.bool_:
                res = res.astype(np.uint8)
            elif res.dtype.kind in "iu" and res.dtype != np.uint8:
                res = res.astype(np.uint32)
            res.tofile(os.path.join(out, name + ".out"))
            saved.add(name)
        del res
        print(json.dumps({"op": name, "wall_ms": wall, "cpu_ms": cpu}), flush=True)


if __name__ == "__main__":
    main()
