import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniform } from "../src/core/coordinate.ts";
import { Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { readArray, refineExactArgs, synthCell } from "./helpers/synth.ts";

/**
 * End to end through the bundled CLI on a small synthetic cell: the largest mitochondrion and a copy
 * of it shifted across its thinnest axis so the two touch along a narrow seam are written as one
 * mask; `organelle refine --split` recovers two ids, one per mitochondrion, and plain refine one.
 */

const { dir, cleanup } = tempDir("organelle-refine-split-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");
let shift = 0;
let axis = 0;

beforeAll(async () => {
  synthCell(ds, { organelles: "mito" });
  const { v, data: labels } = await readArray(ds, "labels/mito");
  const shape = v.meta.shape;
  const counts = new Map<number, number>();
  for (const l of labels) if (l) counts.set(Number(l), (counts.get(Number(l)) ?? 0) + 1);
  const id = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-1, -1, -1];
  const [nz, ny, nx] = shape;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        if (Number(labels[(z * ny + y) * nx + x]) !== id) continue;
        const p = [z, y, x];
        for (let d = 0; d < 3; d++) {
          lo[d] = Math.min(lo[d]!, p[d]!);
          hi[d] = Math.max(hi[d]!, p[d]!);
        }
      }
  const extent = hi.map((h, d) => h - lo[d]! + 1);
  axis = extent.indexOf(Math.min(...extent));
  shift = Math.round(0.9 * extent[axis]!);
  // Room for the copy: the mask is built in a volume padded along that axis.
  const out = [nz, ny, nx];
  out[axis] = out[axis]! + shift + 2;
  const mask = new Uint8Array(out[0]! * out[1]! * out[2]!);
  const step = [out[1]! * out[2]!, out[2]!, 1];
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        if (Number(labels[(z * ny + y) * nx + x]) !== id) continue;
        const i = z * step[0]! + y * step[1]! + x;
        mask[i] = 1;
        mask[i + shift * step[axis]!] = 1;
      }
  const m = await Volume.create(ds, "labels/merged", {
    shape: [out[0]!, out[1]!, out[2]!],
    dtype: "uint8",
    voxelSize: v.meta.voxelSize,
    offset: v.meta.offset,
    chunks: uniform(32),
    kind: "mask",
  });
  await m.writeBox({ begin: uniform(0), shape: m.meta.shape }, mask);
  await m.markComplete();
}, 120_000);

async function ids(array: string) {
  const data = (await readArray(ds, array)).data as Uint32Array;
  return { data, set: new Set(Array.from(data).filter((x) => x !== 0)) };
}

const refine = (...extra: string[]) => organelle(refineExactArgs(ds, "labels/merged", ...extra));

describe("organelle refine --split", () => {
  it("recovers the two mitochondria merged into one mask", async () => {
    const plain = refine("--output", "segmentations/merged");
    expect(plain.code, plain.stderr).toBe(0);
    expect((await ids("segmentations/merged")).set.size).toBe(1);
    const r = refine("--split", "--output", "segmentations/split");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/split 1 object into 2 pieces/);
    expect(r.stdout).toMatch(/; 2 objects/);
    const { data, set } = await ids("segmentations/split");
    expect([...set].sort()).toEqual([1, 2]);
    // one piece per copy: equal halves, their centres one shift apart along the shifted axis
    const v = await Volume.open(ds, "segmentations/split");
    const [, ny, nx] = v.meta.shape;
    const size = [0, 0, 0];
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i++) {
      const l = data[i]!;
      if (l === 0) continue;
      const p = [Math.floor(i / (ny * nx)), Math.floor(i / nx) % ny, i % nx];
      size[l]!++;
      sum[l]! += p[axis]!;
    }
    expect(Math.abs(size[1]! - size[2]!)).toBeLessThan(0.1 * size[1]!);
    const apart = sum[2]! / size[2]! - sum[1]! / size[1]!;
    expect(Math.abs(apart - shift)).toBeLessThan(0.25 * shift);
    expect(shift).toBeGreaterThan(2);
    expect(axis).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it("rejects prediction seeds on a mask input in one line", () => {
    const r = refine("--split", "--seeds", "prediction", "--output", "segmentations/bad");
    expect(expectOneLineError(r)).toMatch(/--seeds prediction: .* mask array, not a prediction/);
  });
});
