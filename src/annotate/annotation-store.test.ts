import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { Roi } from "../core/roi.ts";
import { readRois } from "../gt/rois.ts";
import { Volume } from "../store/volume.ts";
import { readAnnotationRegion, saveAnnotation } from "./annotation-store.ts";

/*
 * Saving annotations into a small hand-made dataset (raw 24^3 at 10 nm, offset 100 nm): clean-up,
 * instance numbering across saves, re-saving a ROI, the exclusion zone, the starting mask from a
 * probability array, and the errors.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-annotation-store-"));
const ds = path.join(dir, "cell.zarr");
const N = 24;
const VS = coord(10, 10, 10);
const ORIGIN = coord(100, 100, 100);
const record = {
  seconds: 12,
  wallSeconds: 20,
  strokes: 3,
  corrections: 1,
  segments: 2,
  supervoxels: 50,
  from: null,
};

/** A ROI of `n`^3 voxels starting at voxel `v` of raw. */
const roiAt = (v: [number, number, number], n: number) =>
  Roi.fromVoxels({ begin: coord(...v), shape: coord(n, n, n) }, VS, ORIGIN);

/** A mask of n^3 voxels with a cube of side `s` at `at` and one stray voxel at the far corner. */
function cubeMask(n: number, at: number, s: number): Uint8Array {
  const m = new Uint8Array(n * n * n);
  for (let z = at; z < at + s; z++)
    for (let y = at; y < at + s; y++) for (let x = at; x < at + s; x++) m[(z * n + y) * n + x] = 1;
  m[n * n * n - 1] = 1;
  return m;
}

beforeAll(async () => {
  const raw = await Volume.create(ds, "raw", {
    shape: coord(N, N, N),
    dtype: "uint8",
    voxelSize: VS,
    offset: ORIGIN,
    chunks: coord(8, 8, 8),
  });
  const grey = new Uint8Array(N * N * N);
  for (let i = 0; i < grey.length; i++) grey[i] = (i * 37) % 251;
  await raw.writeBox({ begin: coord(0, 0, 0), shape: coord(N, N, N) }, grey);
  await raw.markComplete();
  const prob = await Volume.create(ds, "predictions/m/mito/prob", {
    shape: coord(N, N, N),
    dtype: "uint8",
    voxelSize: VS,
    offset: ORIGIN,
    chunks: coord(8, 8, 8),
  });
  const p = new Uint8Array(N * N * N);
  p[0] = 127;
  p[1] = 128;
  p[2] = 255;
  await prob.writeBox({ begin: coord(0, 0, 0), shape: coord(N, N, N) }, p);
  await prob.markComplete();
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("saveAnnotation", () => {
  it("writes binary labels after the preset's clean-up, registers the ROI, writes the exclusion zone", async () => {
    const roi = roiAt([2, 2, 2], 10);
    const r = await saveAnnotation(ds, {
      organelle: "mito",
      roi,
      mask: cubeMask(10, 2, 5),
      role: "training",
      record,
    });
    // mito removes objects < 27 voxels: the stray voxel goes, the 125-voxel cube stays
    expect(r.cleanup).toEqual({ removedVoxels: 1, filledVoxels: 0 });
    expect(r.roi.name).toBe("training-1");
    expect(r.exclusion).toBe("labels/mito_exclusion");
    const labels = await Volume.open(ds, "labels/mito");
    expect(labels.meta.dtype).toBe("uint8");
    const got = (await labels.readRoi(roi)) as Uint8Array;
    expect(got.reduce((s, v) => s + v, 0)).toBe(125);
    const zone = (await (await Volume.open(ds, "labels/mito_exclusion")).readRoi(roi)) as Uint8Array;
    // dilate 4 XOR erode 4 of a 5^3 cube: its interior erodes away, so the zone is the cube and the
    // voxels within city-block distance 4 of it
    expect(zone[(4 * 10 + 4) * 10 + 4]).toBe(1);
    expect(zone[(0 * 10 + 2) * 10 + 2]).toBe(1);
    expect(zone[0]).toBe(0);
    expect(r.record).toMatchObject({
      roi: "training-1",
      role: "training",
      seconds: 12,
      foregroundVoxels: 125,
    });
    expect(fs.readFileSync(path.join(ds, "tables", "annotation-time.csv"), "utf8").split("\n")[1]).toMatch(
      /^1,mito,training-1,training,"120,120,120","100,100,100",0\.001,12,/,
    );
  });

  it("re-saving the same ROI updates it (role and record) instead of adding one", async () => {
    const roi = roiAt([2, 2, 2], 10);
    const r = await saveAnnotation(ds, {
      organelle: "mito",
      roi,
      mask: cubeMask(10, 3, 4),
      role: "validation",
      record,
    });
    expect(r.roi.name).toBe("training-1");
    expect(r.warnings.join(" ")).toMatch(/was a training block; it is now a validation block/);
    const labels = await Volume.open(ds, "labels/mito");
    expect(readRois(labels.attrs, "labels/mito").map((x) => [x.name, x.role])).toEqual([
      ["training-1", "validation"],
    ]);
    expect((labels.attrs.annotations as unknown[]).length).toBe(1);
    const got = (await labels.readRoi(roi)) as Uint8Array;
    expect(got.reduce((s, v) => s + v, 0)).toBe(64);
  });

  it("numbers instances after the ids of earlier saves; refuses to mix binary and instance arrays", async () => {
    await expect(
      saveAnnotation(ds, {
        organelle: "mito",
        roi: roiAt([12, 12, 12], 8),
        mask: new Uint8Array(512),
        role: "training",
        instance: true,
        record,
      }),
    ).rejects.toThrow(/holds binary labels \(uint8\); save with instance: false/);
    const a = roiAt([0, 0, 0], 8);
    const b = roiAt([12, 12, 12], 8);
    const two = new Uint8Array(512);
    for (let x = 0; x < 8; x++) {
      two[(1 * 8 + 1) * 8 + x] = 1; // a row of 8 ...
      two[(5 * 8 + 5) * 8 + x] = 1; // ... and another, apart
    }
    // er: no removal (fill holes only), so rows of 8 voxels survive the clean-up
    const r1 = await saveAnnotation(ds, {
      organelle: "er",
      roi: a,
      mask: two,
      role: "training",
      instance: true,
      record,
    });
    const r2 = await saveAnnotation(ds, {
      organelle: "er",
      roi: b,
      mask: two,
      role: "training",
      instance: true,
      record,
    });
    expect([r1.record.instances, r2.record.instances]).toEqual([2, 2]);
    const labels = await Volume.open(ds, "labels/er");
    expect(labels.meta.dtype).toBe("uint32");
    const ids = new Set([
      ...((await labels.readRoi(a)) as Uint32Array),
      ...((await labels.readRoi(b)) as Uint32Array),
    ]);
    expect([...ids].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("reads the grey values and a probability array as the starting mask (p >= 0.5)", async () => {
    const region = await readAnnotationRegion(ds, {
      roi: roiAt([0, 0, 0], 4),
      from: "predictions/m/mito/prob",
    });
    expect(region.box).toEqual({ begin: [0, 0, 0], shape: [4, 4, 4] });
    expect(Array.from(region.start!.subarray(0, 4))).toEqual([0, 1, 1, 0]);
    // a ROI off the grid is snapped outwards
    const off = await readAnnotationRegion(ds, { roi: new Roi(coord(105, 105, 105), coord(20, 20, 20)) });
    expect(off.box.shape).toEqual([3, 3, 3]);
    await expect(readAnnotationRegion(ds, { roi: roiAt([20, 20, 20], 8) })).rejects.toThrow(
      /must lie inside/,
    );
    await expect(readAnnotationRegion(ds, { roi: roiAt([0, 0, 0], 8), maxVoxels: 100 })).rejects.toThrow(
      /at most 100 voxels/,
    );
    await expect(
      readAnnotationRegion(ds, { roi: roiAt([0, 0, 0], 8), from: "predictions/nope" }),
    ).rejects.toThrow(/no such array/);
  });
});
