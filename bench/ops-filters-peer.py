#!/usr/bin/python3
"""Peer side of bench/ops-filters.ts: runs scipy/skimage on the same raw volumes and reports times.

Usage: /usr/bin/python3 bench/ops-filters-peer.py JOB.json
JOB.json: {"dir": ..., "inputs": {name: {file, dtype, shape}}, "tasks": [{name, op, ...}]}.
Prints "ready", then runs the task named on each stdin line and answers with one JSON line
{"wall_ms", "cpu_ms", "dtype"}: wall time (perf_counter) and CPU time (process_time) of the
algorithm call alone. The first result of each task is written to <dir>/peer-<name>.bin (raw
little-endian) so the bench can compare outputs.
"""

import json
import os
import sys
import time

import numpy as np
import scipy.ndimage as ndi
from skimage.exposure import equalize_adapthist
from skimage.filters import threshold_otsu
from skimage.segmentation import watershed
from skimage.util import img_as_ubyte

job = json.load(open(sys.argv[1]))
d = job["dir"]
inputs = {}
for name, info in job["inputs"].items():
    inputs[name] = np.fromfile(os.path.join(d, info["file"]), dtype=np.dtype(info["dtype"]).newbyteorder("<")).reshape(
        info["shape"]
    )


def run(task):
    op = task["op"]
    if op == "gaussian":
        a = inputs[task["input"]]
        out = np.float32 if task["output"] == "float32" else None
        return lambda: ndi.gaussian_filter(a, task["sigma_voxels"], output=out, mode="reflect", truncate=4.0)
    if op == "otsu":
        a = inputs[task["input"]]
        return lambda: np.array([threshold_otsu(a)], np.float64)
    if op == "threshold":
        a = inputs[task["input"]]
        t = task["threshold"]
        return lambda: (a > t).astype(np.uint8)
    if op == "clahe":
        a = inputs[task["input"]]
        k, clip, nbins = task["kernel_size"], task["clip_limit"], task["nbins"]
        # img_as_ubyte is part of what the CLI writes (uint8), so it is timed on both sides.
        return lambda: img_as_ubyte(equalize_adapthist(a, kernel_size=k, clip_limit=clip, nbins=nbins))
    if op == "watershed":
        img = inputs[task["image"]]
        markers = inputs[task["markers"]]
        mask = inputs[task["mask"]].astype(bool) if task.get("mask") else None
        return lambda: watershed(img, markers, mask=mask, connectivity=1).astype(np.uint32)
    raise SystemExit(f"unknown op {op}")


tasks = {t["name"]: (t, run(t)) for t in job["tasks"]}
written = set()
print("ready", flush=True)
for line in sys.stdin:
    name = line.strip()
    if not name:
        continue
    task, f = tasks[name]
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = f()
    wall = (time.perf_counter() - t0) * 1000
    cpu = (time.process_time() - c0) * 1000
    result = np.ascontiguousarray(result)
    if name not in written:
        result.astype(result.dtype.newbyteorder("<")).tofile(os.path.join(d, f"peer-{name}.bin"))
        written.add(name)
    print(json.dumps({"wall_ms": wall, "cpu_ms": cpu, "dtype": str(result.dtype)}), flush=True)
    result = None
