#!/usr/bin/python3
"""Peer of bench/graphcut.ts: skimage SLIC + the same ASEM energy in numpy + max-flow by
scipy.sparse.csgraph.maximum_flow (integer capacities, x1000) and networkx (preflow-push).

  /usr/bin/python3 bench/graphcut-peer.py DIR Z Y X VOXEL_NM

DIR holds raw.bin (uint8) and seeds.bin (uint8: 1 fg, 2 bg). Prints one JSON line of timings (s, wall;
slic_cpu and cut_cpu: CPU seconds of this process, for comparison on a loaded machine)."""
import json
import sys
import time

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow
from skimage.segmentation import slic

d, shape, vox = sys.argv[1], tuple(int(v) for v in sys.argv[2:5]), float(sys.argv[5])
raw = np.fromfile(f"{d}/raw.bin", np.uint8).reshape(shape)
seeds = np.fromfile(f"{d}/seeds.bin", np.uint8).reshape(shape)
out = {}

t = time.perf_counter()
cpu0 = time.process_time()
labels = slic(raw, n_segments=4000, compactness=25, max_num_iter=10, spacing=np.array([vox] * 3),
              channel_axis=None, enforce_connectivity=True, start_label=0)
out["slic"] = time.perf_counter() - t
out["slic_cpu"] = time.process_time() - cpu0
n = int(labels.max()) + 1
out["supervoxels"] = n

t = time.perf_counter()
flat = labels.ravel()
size = np.bincount(flat, minlength=n).astype(float)
grey = np.bincount(flat, raw.ravel().astype(float), n) / size
zz, yy, xx = np.indices(shape)
cen = np.stack([np.bincount(flat, c.ravel().astype(float), n) / size for c in (zz, yy, xx)], 1) * vox
pairs = []
for ax in range(3):
    a = np.take(labels, range(shape[ax] - 1), axis=ax).ravel()
    b = np.take(labels, range(1, shape[ax]), axis=ax).ravel()
    m = a != b
    pairs.append(np.stack([np.minimum(a[m], b[m]), np.maximum(a[m], b[m])], 1))
edges = np.unique(np.concatenate(pairs), axis=0)
out["graph"] = time.perf_counter() - t

t = time.perf_counter()
cpu0 = time.process_time()
dg2 = (grey[edges[:, 0]] - grey[edges[:, 1]]) ** 2
beta = 1 / (2 * dg2.mean())
dist = np.linalg.norm(cen[edges[:, 0]] - cen[edges[:, 1]], axis=1) / vox
w = 10 * np.exp(-beta * dg2) / dist
bins = np.minimum(4, ((raw.astype(float) - raw.min()) / ((raw.max() - raw.min()) / 5)).astype(int)).ravel()
unary = {}
for c in (1, 2):
    hist = np.bincount(bins[seeds.ravel() == c], minlength=5) + 1.0
    nll = -np.log(hist / hist.sum())
    p = np.bincount(flat, nll[bins], n) / size
    edt = ndi.distance_transform_edt(seeds != c, sampling=[vox] * 3)
    dd = np.log1p(np.bincount(flat, edt.ravel(), n) / size / vox)
    unary[c] = p + dd
fgc = np.bincount(flat, (seeds.ravel() == 1).astype(float), n)
bgc = np.bincount(flat, (seeds.ravel() == 2).astype(float), n)
big = 1e6
src = np.where(fgc > bgc, big, unary[2])
snk = np.where(bgc > fgc, big, unary[1])
out["unaries"] = time.perf_counter() - t

t = time.perf_counter()
S, T = n, n + 1
rows = np.concatenate([edges[:, 0], edges[:, 1], np.full(n, S), np.arange(n)])
cols = np.concatenate([edges[:, 1], edges[:, 0], np.arange(n), np.full(n, T)])
cap = np.round(np.concatenate([w, w, src, snk]) * 1000).astype(np.int32)
g = sp.csr_matrix((cap, (rows, cols)), shape=(n + 2, n + 2))
r = maximum_flow(g, S, T)
out["scipy_maxflow"] = time.perf_counter() - t
out["cut_cpu"] = time.process_time() - cpu0
out["scipy_flow"] = r.flow_value / 1000

try:
    import networkx as nx
    t = time.perf_counter()
    G = nx.DiGraph()
    for (a, b), c in zip(edges.tolist(), w.tolist()):
        G.add_edge(a, b, capacity=c)
        G.add_edge(b, a, capacity=c)
    for i in range(n):
        G.add_edge("s", i, capacity=float(src[i]))
        G.add_edge(i, "t", capacity=float(snk[i]))
    value, _ = nx.minimum_cut(G, "s", "t")
    out["networkx_maxflow"] = time.perf_counter() - t
    out["networkx_flow"] = value
except ImportError:
    pass
print(json.dumps(out))
