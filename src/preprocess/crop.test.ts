import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { Roi } from "../core/roi.ts";
import { importProvenance } from "../store/import.ts";
import { buildPyramid } from "../store/pyramid.ts";
import { Volume } from "../store/volume.ts";
import { cropDataset } from "./crop.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-crop-"));
const ds = path.join(dir, "cell.zarr");
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const shape: Coordinate = coord(24, 30, 34);
const vs: Coordinate = coord(5, 4, 4);
const offset: Coordinate = coord(100, 40, 0);
const value = (z: number, y: number, x: number) => (z * 31 + y * 7 + x * 3) % 251;

async function write(
  arrayPath: string,
  o: {
    dtype: "uint8" | "uint32";
    kind: "intensity" | "label" | "mask";
    voxelSize: Coordinate;
    shape: Coordinate;
    attrs?: Record<string, unknown>;
  },
) {
  const v = await Volume.create(ds, arrayPath, {
    shape: o.shape,
    dtype: o.dtype,
    voxelSize: o.voxelSize,
    offset,
    chunks: uniform(8),
    kind: o.kind,
    attrs: o.attrs,
  });
  const n = o.shape[0] * o.shape[1] * o.shape[2];
  const data = o.dtype === "uint8" ? new Uint8Array(n) : new Uint32Array(n);
  for (let z = 0, i = 0; z < o.shape[0]; z++)
    for (let y = 0; y < o.shape[1]; y++) for (let x = 0; x < o.shape[2]; x++, i++) data[i] = value(z, y, x);
  await v.writeBox({ begin: uniform(0), shape: o.shape }, data);
  await v.markComplete();
}

beforeAll(async () => {
  await write("raw", { dtype: "uint8", kind: "intensity", voxelSize: vs, shape });
  await buildPyramid(ds, "raw", { pool, progress: false, blockVoxels: 8 });
  await write("labels/mito", {
    dtype: "uint32",
    kind: "label",
    voxelSize: vs,
    shape,
    attrs: {
      rois: [
        { name: "training-1", role: "training", offset: [100, 40, 0], shape: [50, 40, 40] },
        { name: "validation-1", role: "validation", offset: [200, 120, 120], shape: [20, 16, 16] },
      ],
    },
  });
  // a mask at half the resolution: the crop grows to its whole voxels
  await write("masks/cell", {
    dtype: "uint8",
    kind: "mask",
    voxelSize: coord(10, 8, 8),
    shape: coord(12, 15, 17),
  });
});

async function read(d: string, a: string, scale = 0) {
  const v = await Volume.open(d, a, { scale });
  return { v, data: await v.readBox({ begin: uniform(0), shape: v.meta.shape }) };
}

describe("cropDataset", () => {
  it("copies every array restricted to the ROI, records the crop for un-crop and clips ROIs", async () => {
    const out = path.join(dir, "crop1.zarr");
    // voxels 3..19 x 5..22 x 7..30 of raw
    const r = await cropDataset(ds, out, {
      voxels: { begin: coord(3, 5, 7), shape: coord(16, 17, 23) },
      pool,
      progress: null,
      blockVoxels: 8,
    });
    expect(r.arrays.map((a) => a.path)).toEqual(["raw", "labels/mito", "masks/cell"]);
    const { v: raw, data } = await read(out, "raw");
    expect(raw.meta.shape).toEqual(coord(16, 17, 23));
    expect(raw.meta.offset).toEqual(coord(100 + 3 * 5, 40 + 5 * 4, 7 * 4));
    // a pyramid again, down to about one chunk (so at most as many levels as the source's)
    expect(raw.levels.length).toBe(3);
    expect((await Volume.open(ds, "raw")).levels.length).toBe(4);
    for (let z = 0, i = 0; z < 16; z++)
      for (let y = 0; y < 17; y++)
        for (let x = 0; x < 23; x++, i++) expect(data[i]).toBe(value(z + 3, y + 5, x + 7));
    const rec = importProvenance(raw.attrs)!;
    expect(rec.sourceShape).toEqual([...shape]);
    expect(rec.cropOffset).toEqual([3, 5, 7]);
    expect(rec.cropShape).toEqual([16, 17, 23]);
    // export's un-crop frame: raw.offset - cropOffset * voxel size is the source's frame
    for (let d = 0; d < 3; d++) expect(raw.meta.offset[d]! - rec.cropOffset[d]! * vs[d]!).toBe(offset[d]);

    const { v: mito } = await read(out, "labels/mito");
    expect(mito.meta.kind).toBe("label");
    // the validation ROI lies outside the crop and is dropped
    expect(mito.attrs.rois).toEqual([
      { name: "training-1", role: "training", offset: [115, 60, 28], shape: [35, 20, 12] },
    ]);

    const { v: mask, data: m } = await read(out, "masks/cell");
    // the ROI [115..195) x [60..128) x [28..120) nm grown to whole 10 x 8 x 8 nm voxels of the mask
    expect(mask.meta.offset).toEqual(coord(110, 56, 24));
    expect(mask.meta.shape).toEqual(coord(9, 9, 12));
    expect(m[0]).toBe(value(1, 2, 3));

    // crops of crops compose
    const out2 = path.join(dir, "crop2.zarr");
    await cropDataset(out, out2, {
      roi: new Roi(coord(125, 68, 36), coord(20, 16, 40)),
      arrays: ["raw"],
      pool,
      progress: null,
    });
    const { v: raw2, data: d2 } = await read(out2, "raw");
    const rec2 = importProvenance(raw2.attrs)!;
    expect(rec2.cropOffset).toEqual([5, 7, 9]);
    expect(rec2.sourceShape).toEqual([...shape]);
    expect(d2[0]).toBe(value(5, 7, 9));
    expect(fs.existsSync(path.join(out2, "labels"))).toBe(false);
  });

  it("refuses a ROI outside the volume, unknown arrays and an existing output", async () => {
    await expect(
      cropDataset(ds, path.join(dir, "bad.zarr"), {
        roi: new Roi(coord(0, 0, 0), coord(50, 50, 50)),
        pool,
        progress: null,
      }),
    ).rejects.toThrow(/reaches outside raw/);
    await expect(
      cropDataset(ds, path.join(dir, "bad.zarr"), {
        voxels: { begin: uniform(0), shape: uniform(4) },
        arrays: ["labels/er"],
        pool,
        progress: null,
      }),
    ).rejects.toThrow(/no such array/);
    await expect(
      cropDataset(ds, path.join(dir, "crop1.zarr"), {
        voxels: { begin: uniform(0), shape: uniform(4) },
        pool,
        progress: null,
      }),
    ).rejects.toThrow(/already exists/);
    expect(fs.existsSync(path.join(dir, "bad.zarr"))).toBe(false);
  });
});
