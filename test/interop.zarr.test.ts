import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord, uniform } from "../src/core/coordinate.ts";
import type { DType, VoxelArray } from "../src/store/dtype.ts";
import type { ArrayKind } from "../src/store/multiscale.ts";
import { buildPyramid } from "../src/store/pyramid.ts";
import { openReader } from "../src/store/reader.ts";
import { type Compressor, Volume } from "../src/store/volume.ts";
import { REPO, tempDir } from "./helpers/cli.ts";

/*
 * Interoperability with an independent implementation, Debian's python3-zarr 2.13 (installed by
 * scripts/setup.sh): (a) an OME-Zarr 0.4 dataset written by organelle opens in python with the same
 * values, multiscales metadata and labels; python also recomputes s1 from s0 with numpy/scipy. (b) a
 * dataset written by python3-zarr (scripts/fixtures/make_zarr_fixture.py, committed) opens in organelle.
 */

const PYTHON = "/usr/bin/python3";

const READ_IN_PYTHON = `
import hashlib, json, sys
import numpy as np, scipy.stats, zarr
root = zarr.open_group(sys.argv[1], mode="r")
out = {"labels": root["labels"].attrs.asdict().get("labels"), "arrays": {}}
for name in sys.argv[2:]:
    g = root[name]
    ms = g.attrs["multiscales"][0]
    levels = []
    for d in ms["datasets"]:
        a = g[d["path"]]
        x = a[...]
        t = {c["type"]: c.get("scale", c.get("translation")) for c in d["coordinateTransformations"]}
        levels.append({
            "path": d["path"], "shape": list(x.shape), "dtype": str(x.dtype), "chunks": list(a.chunks),
            "codec": a.compressor.codec_id, "cname": getattr(a.compressor, "cname", None),
            "sha256": hashlib.sha256(x.astype(x.dtype.newbyteorder("<")).tobytes()).hexdigest(),
            "scale": t["scale"], "translation": t["translation"],
        })
    # s1 recomputed from s0 by numpy (mean, rounded half up) or scipy (mode, ties -> smallest)
    s0, s1 = g[ms["datasets"][0]["path"]][...], g[ms["datasets"][1]["path"]][...]
    z, y, x = s0.shape
    w = s0.reshape(z // 2, 2, y // 2, 2, x // 2, 2).transpose(0, 2, 4, 1, 3, 5).reshape(z // 2, y // 2, x // 2, 8)
    if ms["type"] == "mean":
        ref = np.floor(w.astype(np.float64).mean(axis=-1) + 0.5).astype(s0.dtype)
    else:
        ref = scipy.stats.mode(w, axis=-1, keepdims=False).mode.astype(s0.dtype)
    out["arrays"][name] = {
        "version": ms.get("version"), "type": ms.get("type"),
        "axes": [[a["name"], a["type"], a["unit"]] for a in ms["axes"]],
        "levels": levels, "imageLabel": g.attrs.asdict().get("image-label"),
        "s1MatchesNumpy": bool((ref == s1).all()),
    }
print(json.dumps(out))
`;

function sha256(a: VoxelArray): string {
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

interface Written {
  name: string;
  dtype: DType;
  compressor: Compressor;
  kind: ArrayKind;
}

const ARRAYS: Written[] = [
  { name: "raw", dtype: "uint8", compressor: "zstd", kind: "intensity" },
  { name: "raw16", dtype: "uint16", compressor: "blosc", kind: "intensity" },
  { name: "labels/mito", dtype: "uint32", compressor: "blosc", kind: "label" },
  { name: "masks/cell", dtype: "uint8", compressor: "zstd", kind: "mask" },
];
const SHAPE = coord(12, 20, 18);
const VOXEL = coord(5, 4, 4);
const OFFSET = coord(50, 8, 4);

describe("OME-Zarr 0.4 written by organelle, read by python3-zarr", () => {
  const { dir, cleanup } = tempDir("organelle-interop-");
  const ds = path.join(dir, "cell.zarr");
  afterAll(cleanup);
  const ours = new Map<string, { sha: string[]; shapes: Coordinate[]; scales: Coordinate[] }>();

  beforeAll(async () => {
    for (const [i, a] of ARRAYS.entries()) {
      const vol = await Volume.create(ds, a.name, {
        shape: SHAPE,
        dtype: a.dtype,
        voxelSize: VOXEL,
        offset: OFFSET,
        chunks: uniform(8),
        compressor: a.compressor,
        format: "0.4",
        kind: a.kind,
      });
      const rand = lcg(100 + i);
      const data = (await vol.readBox({ begin: uniform(0), shape: SHAPE })) as Exclude<
        VoxelArray,
        BigUint64Array
      >;
      for (let j = 0; j < data.length; j++) {
        data[j] =
          a.kind === "intensity"
            ? rand(a.dtype === "uint8" ? 256 : 65536)
            : a.kind === "mask"
              ? rand(2)
              : rand(3) * 2_000_000_011; // large ids (> 2^31) with many mode ties
      }
      await vol.writeBox({ begin: uniform(0), shape: SHAPE }, data);
      await vol.markComplete();
      await buildPyramid(ds, a.name, { runner: "in-process", progress: false });
      const top = await Volume.open(ds, a.name);
      const sha: string[] = [];
      const shapes: Coordinate[] = [];
      for (let k = 0; k < top.levels.length; k++) {
        const v = await Volume.open(ds, a.name, { scale: k });
        sha.push(sha256(await v.readBox({ begin: uniform(0), shape: v.meta.shape })));
        shapes.push(v.meta.shape);
      }
      ours.set(a.name, { sha, shapes, scales: top.levels.map((l) => l.voxelSize) });
    }
  });

  it("opens every array and level with identical values and the multiscales metadata", () => {
    const out = JSON.parse(
      execFileSync(PYTHON, ["-c", READ_IN_PYTHON, ds, ...ARRAYS.map((a) => a.name)], { encoding: "utf8" }),
    );
    expect(out.labels).toEqual(["mito"]);
    for (const a of ARRAYS) {
      const py = out.arrays[a.name];
      const mine = ours.get(a.name)!;
      expect(mine.sha.length).toBe(3); // 12x20x18 in chunks of 8: s0, s1 (6x10x9), s2 (3x5x5)
      expect(py.version).toBe("0.4");
      expect(py.type).toBe(a.kind === "intensity" ? "mean" : "mode");
      expect(py.axes).toEqual([
        ["z", "space", "nanometer"],
        ["y", "space", "nanometer"],
        ["x", "space", "nanometer"],
      ]);
      expect(py.levels.map((l: { path: string }) => l.path)).toEqual(["s0", "s1", "s2"]);
      py.levels.forEach((l: Record<string, unknown>, k: number) => {
        expect(l.sha256).toBe(mine.sha[k]);
        expect(l.shape).toEqual([...mine.shapes[k]!]);
        expect(l.dtype).toBe(a.dtype);
        expect(l.codec).toBe(a.compressor);
        if (a.compressor === "blosc") expect(l.cname).toBe("zstd");
        const s = VOXEL.map((v) => v * 2 ** k);
        expect(l.scale).toEqual(s);
        // OME-NGFF voxel centres: translation = corner offset + (scale - base) / 2
        expect(l.translation).toEqual(OFFSET.map((o, d) => o + (s[d]! - VOXEL[d]!) / 2));
      });
      expect(py.s1MatchesNumpy).toBe(true);
      if (a.name === "labels/mito") expect(py.imageLabel).toMatchObject({ source: { image: "../../raw" } });
    }
  });
});

describe("OME-Zarr 0.4 written by python3-zarr, read by organelle", () => {
  const FIXTURE = path.join(REPO, "test/fixtures/zarr");
  const container = path.join(FIXTURE, "python.zarr");
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, "expected.json"), "utf8")).arrays as Record<
    string,
    {
      shape: number[];
      chunks: number[];
      dtype: string;
      compression: string;
      sha256: string;
      samples: number[][];
      voxelSize: number[];
      offset: number[];
    }
  >;
  // "raw/1" is level 1 of the multiscale group "raw"; the others are arrays of their own
  const cases = Object.entries(expected).map(([name, e]) => {
    const m = /^(.*)\/(\d+)$/.exec(name);
    return { name, array: m ? m[1]! : name, scale: m ? Number(m[2]) : undefined, e };
  });

  it.each(cases)("reads $name with its values, voxel size and offset", async ({ array, scale, e }) => {
    const r = await openReader(container, { array, scale });
    expect([...r.meta.shape]).toEqual(e.shape);
    expect([...r.meta.chunks]).toEqual(e.chunks);
    expect(r.meta.dtype).toBe(e.dtype);
    expect(r.meta.compressor).toBe(e.compression);
    expect(r.meta.voxelSize[0]).toBeCloseTo(e.voxelSize[0]!, 9);
    expect([...r.meta.voxelSize.slice(1)]).toEqual(e.voxelSize.slice(1));
    for (const [d, o] of r.meta.offset.entries()) expect(o).toBeCloseTo(e.offset[d]!, 9);
    const all = await r.readBox({ begin: uniform(0), shape: r.meta.shape });
    expect(sha256(all)).toBe(e.sha256);
    const [, sy, sx] = r.meta.shape;
    for (const [z, y, x, v] of e.samples) expect(Number(all[(z! * sy + y!) * sx + x!])).toBe(v);
  });

  it("knows the label image and the pyramid of raw", async () => {
    const nuc = await openReader(container, { array: "labels/nuc" });
    expect(nuc.meta.kind).toBe("label");
    const raw = await openReader(path.join(container, "raw"));
    expect(raw.levels.map((l) => l.path)).toEqual(["0", "1"]);
    const level1 = await openReader(path.join(container, "raw/1"));
    expect(level1.scale).toBe(1);
    expect([...level1.meta.offset]).toEqual([...raw.meta.offset]); // one corner offset for all levels
  });
});
