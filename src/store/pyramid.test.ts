import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Progress } from "../blockwise/progress.ts";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { downsampleMean, downsampleMode } from "./downsample.ts";
import type { DType, VoxelArray } from "./dtype.ts";
import type { ArrayKind } from "./multiscale.ts";
import { buildPyramid, planPyramid } from "./pyramid.ts";
import { type OmeVersion, Volume } from "./volume.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-pyramid-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Deterministic pseudo-random integers in [0, n). */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/**
 * The reference, written without looking at the kernels: for every output voxel walk its window in
 * the whole array; mean = Math.round(sum / count) (half up), mode = highest count, then smallest value.
 */
function naiveLevel(
  src: ArrayLike<number>,
  shape: Coordinate,
  f: Coordinate,
  method: "mean" | "mode",
): { data: number[]; shape: Coordinate } {
  const out = coord(Math.ceil(shape[0] / f[0]), Math.ceil(shape[1] / f[1]), Math.ceil(shape[2] / f[2]));
  const data: number[] = [];
  for (let z = 0; z < out[0]; z++)
    for (let y = 0; y < out[1]; y++)
      for (let x = 0; x < out[2]; x++) {
        const values: number[] = [];
        for (let a = z * f[0]; a < Math.min((z + 1) * f[0], shape[0]); a++)
          for (let b = y * f[1]; b < Math.min((y + 1) * f[1], shape[1]); b++)
            for (let c = x * f[2]; c < Math.min((x + 1) * f[2], shape[2]); c++)
              values.push(src[(a * shape[1] + b) * shape[2] + c]!);
        if (method === "mean") {
          data.push(Math.round(values.reduce((s, v) => s + v, 0) / values.length));
        } else {
          const counts = new Map<number, number>();
          for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
          const best = [...counts.entries()].sort((p, q) => q[1] - p[1] || p[0] - q[0])[0]!;
          data.push(best[0]);
        }
      }
  return { data, shape: out };
}

interface Case {
  name: string;
  format: OmeVersion;
  dtype: DType;
  kind: ArrayKind;
  shape: Coordinate;
  voxelSize: Coordinate;
  chunks: Coordinate;
  /** Expected voxel sizes per level (the anisotropy rule, spelled out). */
  voxelSizes: number[][];
  values: number;
}

const CASES: Case[] = [
  {
    name: "uint8 intensity, odd shape, isotropic, OME-Zarr 0.4",
    format: "0.4",
    dtype: "uint8",
    kind: "intensity",
    shape: coord(37, 45, 29),
    voxelSize: uniform(4),
    chunks: uniform(8),
    voxelSizes: [
      [4, 4, 4],
      [8, 8, 8],
      [16, 16, 16],
      [32, 32, 32],
    ],
    values: 256,
  },
  {
    name: "uint16 intensity, anisotropic 10x4x4, OME-Zarr 0.5",
    format: "0.5",
    dtype: "uint16",
    kind: "intensity",
    shape: coord(9, 40, 35),
    voxelSize: coord(10, 4, 4),
    chunks: coord(4, 8, 8),
    voxelSizes: [
      [10, 4, 4],
      [10, 8, 8],
      [20, 16, 16],
      [40, 32, 32],
    ],
    values: 65536,
  },
  {
    name: "uint32 labels (mode, ties), anisotropic 8x4x4, OME-Zarr 0.5",
    format: "0.5",
    dtype: "uint32",
    kind: "label",
    shape: coord(11, 21, 19),
    voxelSize: coord(8, 4, 4),
    chunks: uniform(4),
    voxelSizes: [
      [8, 4, 4],
      [8, 8, 8],
      [16, 16, 16],
      [32, 32, 32],
    ],
    values: 4,
  },
  {
    name: "uint8 mask (mode), odd shape, OME-Zarr 0.4",
    format: "0.4",
    dtype: "uint8",
    kind: "mask",
    shape: coord(13, 7, 17),
    voxelSize: uniform(5),
    chunks: uniform(4),
    voxelSizes: [
      [5, 5, 5],
      [10, 10, 10],
      [20, 20, 20],
      [40, 40, 40],
    ],
    values: 2,
  },
];

async function makeArray(ds: string, c: Case, seed: number): Promise<ArrayLike<number>> {
  const vol = await Volume.create(ds, c.kind === "intensity" ? "raw" : `labels/${c.kind}`, {
    shape: c.shape,
    dtype: c.dtype,
    voxelSize: c.voxelSize,
    offset: coord(100, 20, 8),
    chunks: c.chunks,
    format: c.format,
    kind: c.kind,
    compressor: "zstd",
  });
  const rand = lcg(seed);
  const n = c.shape[0] * c.shape[1] * c.shape[2];
  const data = (await vol.readBox({ begin: uniform(0), shape: c.shape })) as Exclude<
    VoxelArray,
    BigUint64Array
  >;
  for (let i = 0; i < n; i++) data[i] = rand(c.values) * (c.dtype === "uint32" ? 1_000_003 : 1);
  await vol.writeBox({ begin: uniform(0), shape: c.shape }, data);
  await vol.markComplete();
  return data;
}

describe("buildPyramid", () => {
  it.each(CASES)("$name: every level equals a naive whole-array downsampling", async (c) => {
    const ds = path.join(tmp, `${c.name.replace(/\W+/g, "-")}.zarr`);
    const arrayPath = c.kind === "intensity" ? "raw" : `labels/${c.kind}`;
    const s0 = await makeArray(ds, c, 7);
    const result = await buildPyramid(ds, arrayPath, { runner: "in-process", progress: false });
    expect(result.method).toBe(c.kind === "intensity" ? "mean" : "mode");
    const top = await Volume.open(ds, arrayPath); // complete again
    expect(top.levels.map((l) => [...l.voxelSize])).toEqual(c.voxelSizes);
    expect(top.levels.every((l) => l.offset.join() === "100,20,8")).toBe(true);
    let prev = { data: Array.from(s0), shape: c.shape };
    for (let k = 1; k < top.levels.length; k++) {
      const f = coord(
        ...([0, 1, 2].map((d) => c.voxelSizes[k]![d]! / c.voxelSizes[k - 1]![d]!) as [
          number,
          number,
          number,
        ]),
      );
      const want = naiveLevel(prev.data, prev.shape, f, result.method);
      const level = await Volume.open(ds, arrayPath, { scale: k });
      expect([...level.meta.shape]).toEqual([...want.shape]);
      const got = await level.readBox({ begin: uniform(0), shape: level.meta.shape });
      expect(Array.from(got as ArrayLike<number>)).toEqual(want.data);
      prev = want;
    }
    // the smallest level fits in one chunk along every axis; the one before did not
    const last = top.levels.length - 1;
    const lastShape = (await Volume.open(ds, arrayPath, { scale: last })).meta.shape;
    expect(lastShape.every((s, d) => s <= c.chunks[d]!)).toBe(true);
  });

  it("runs on worker threads with the same result as in-process", async () => {
    const c = CASES[0]!;
    const a = path.join(tmp, "workers-a.zarr");
    const b = path.join(tmp, "workers-b.zarr");
    await makeArray(a, c, 3);
    await makeArray(b, c, 3);
    await buildPyramid(a, "raw", { runner: "in-process", progress: false });
    await buildPyramid(b, "raw", { runner: "workers", workers: 2, progress: false });
    expect(treeBytes(path.join(b, "raw"))).toEqual(treeBytes(path.join(a, "raw")));
  });

  it("resumes an interrupted build and ends with identical bytes", async () => {
    const c = CASES[2]!;
    const fresh = path.join(tmp, "resume-fresh.zarr");
    const cut = path.join(tmp, "resume-cut.zarr");
    await makeArray(fresh, c, 11);
    await makeArray(cut, c, 11);
    await buildPyramid(fresh, "labels/label", { runner: "in-process", blockVoxels: 4, progress: false });

    // Cancel after a few blocks of s1, as a kill would stop it.
    const controller = new AbortController();
    class StopAfter extends Progress {
      override tick(n = 1): void {
        super.tick(n);
        if (this.completed >= 5) controller.abort();
      }
    }
    const progress = new StopAfter({ label: "test", total: 1000, sink: null });
    await expect(
      buildPyramid(cut, "labels/label", {
        runner: "in-process",
        workers: 1,
        blockVoxels: 4,
        progress,
        signal: controller.signal,
      }),
    ).rejects.toSatisfy((e) => isOrganelleError(e, "Aborted"));
    await expect(Volume.open(cut, "labels/label")).rejects.toSatisfy((e) =>
      isOrganelleError(e, "Incomplete"),
    );
    const jobs = path.join(cut, ".organelle", "jobs");
    expect(fs.readdirSync(jobs).length).toBeGreaterThan(0);

    const again = await buildPyramid(cut, "labels/label", {
      runner: "in-process",
      blockVoxels: 4,
      progress: false,
    });
    expect(again.skipped).toBeGreaterThanOrEqual(5);
    expect(treeBytes(path.join(cut, "labels", "label"))).toEqual(
      treeBytes(path.join(fresh, "labels", "label")),
    );
    expect(fs.readdirSync(jobs)).toEqual([]); // journals are removed once the levels are marked
    expect((await Volume.open(cut, "labels/label")).levels).toHaveLength(4);
  });

  it("refuses to replace existing levels without overwrite, and rebuilds with it", async () => {
    const c = CASES[3]!;
    const ds = path.join(tmp, "overwrite.zarr");
    await makeArray(ds, c, 5);
    await buildPyramid(ds, "labels/mask", { runner: "in-process", progress: false });
    await expect(buildPyramid(ds, "labels/mask", { runner: "in-process", progress: false })).rejects.toThrow(
      /already has 4 scale levels; pass --overwrite/,
    );
    const r = await buildPyramid(ds, "labels/mask", {
      runner: "in-process",
      progress: false,
      overwrite: true,
      maxLevels: 2,
    });
    expect(r.levels).toHaveLength(2);
    expect(fs.existsSync(path.join(ds, "labels/mask/s2"))).toBe(false);
    expect((await Volume.open(ds, "labels/mask")).levels).toHaveLength(2);
  });

  it("refuses an array that is still being written unless asked", async () => {
    const ds = path.join(tmp, "incomplete.zarr");
    await Volume.create(ds, "raw", {
      shape: uniform(20),
      dtype: "uint8",
      voxelSize: uniform(4),
      chunks: uniform(8),
    });
    await expect(buildPyramid(ds, "raw", { runner: "in-process", progress: false })).rejects.toSatisfy((e) =>
      isOrganelleError(e, "Incomplete"),
    );
    await buildPyramid(ds, "raw", {
      runner: "in-process",
      progress: false,
      allowIncomplete: true,
      complete: false,
    });
    await expect(Volume.open(ds, "raw")).rejects.toSatisfy((e) => isOrganelleError(e, "Incomplete"));
    expect((await Volume.open(ds, "raw", { allowIncomplete: true })).levels).toHaveLength(3);
  });
});

describe("planPyramid", () => {
  it("stops at about one chunk and never downsamples a single-voxel axis", () => {
    const p = planPyramid(coord(1, 300, 300), uniform(4), uniform(128));
    expect(p.map((l) => [...l.shape])).toEqual([
      [1, 300, 300],
      [1, 150, 150],
      [1, 75, 75],
    ]);
    expect(planPyramid(uniform(100), uniform(4), uniform(128))).toHaveLength(1);
  });
});

describe("downsample kernels", () => {
  it("round means half up and break mode ties towards the smallest value", () => {
    const mean = new Uint8Array(1);
    downsampleMean(new Uint8Array([1, 2]), coord(1, 1, 2), coord(1, 1, 2), mean);
    expect(mean[0]).toBe(2);
    const f = new Float32Array(1);
    downsampleMean(new Float32Array([1, 2]), coord(1, 1, 2), coord(1, 1, 2), f);
    expect(f[0]).toBe(1.5);
    const mode = new Uint32Array(1);
    downsampleMode(new Uint32Array([9, 9, 3, 3, 5, 7, 7, 1]), uniform(2), uniform(2), mode);
    expect(mode[0]).toBe(3);
    const big = new BigUint64Array(1);
    downsampleMode(new BigUint64Array([2n ** 60n, 5n, 2n ** 60n, 5n]), coord(1, 2, 2), coord(1, 2, 2), big);
    expect(big[0]).toBe(5n);
  });
});

/** Every file under dir (relative path -> bytes, hex), for byte-identical comparisons. */
function treeBytes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out[path.relative(dir, full)] = fs.readFileSync(full).toString("hex");
  }
  return out;
}
