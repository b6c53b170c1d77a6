import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { differences, gtFixtures, gtU8, shapeOf } from "../../test/helpers/gt-fixtures.ts";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { Volume } from "../store/volume.ts";
import { runMask } from "./mask.ts";

const fx = gtFixtures().cell;
const shape = shapeOf(fx.shape);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-mask-"));
const ds = path.join(dir, "cell.zarr");
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  const vol = await Volume.create(ds, "raw", {
    shape,
    dtype: "uint8",
    voxelSize: coord(5, 5, 5),
    offset: coord(50, 0, 25),
    chunks: uniform(8),
  });
  await vol.writeBox({ begin: uniform(0), shape }, gtU8(fx.raw));
  await vol.markComplete();
});

async function maskOf(output: string): Promise<Uint8Array> {
  const v = await Volume.open(ds, output);
  expect(v.meta.kind).toBe("mask");
  return (await v.readBox({ begin: uniform(0), shape })) as Uint8Array;
}

const base = {
  windowLow: fx.windowLow,
  windowHigh: fx.windowHigh,
  openingRadius: fx.openingRadius,
  closingRadius: fx.closingRadius,
  blockVoxels: 16, // blocks far smaller than the cell, the holes and the debris
  pool,
  progress: null,
};

describe("runMask (cell mask, block-wise)", () => {
  it("equals skimage's whole-volume window, opening, closing, remove_small_holes, remove_small_objects", async () => {
    const r = await runMask(ds, {
      ...base,
      output: "masks/cell",
      fillHoles: fx.fillHolesSmallerThan,
      removeSmall: fx.removeObjectsSmallerThan,
    });
    const want = gtU8(fx.mask);
    expect(differences(await maskOf("masks/cell"), want)).toBe(0);
    expect(r.foreground).toBe(want.reduce((a, v) => a + v, 0));
    expect(r.stages.map((s) => s.stage.op)).toEqual(["fillHoles", "removeSmall"]);
    expect(r.stages[0]!.changed).toBeGreaterThan(0); // the droplet and the pocket
    expect(r.stages[1]!.changed).toBeGreaterThan(0); // the debris
  });

  it("morphology alone, and filling every enclosed hole", async () => {
    await runMask(ds, { ...base, output: "masks/morph", fillHoles: 0, removeSmall: 0 });
    expect(differences(await maskOf("masks/morph"), gtU8(fx.morphologyOnly))).toBe(0);
    await runMask(ds, {
      ...base,
      output: "masks/all",
      fillHoles: "all",
      removeSmall: fx.removeObjectsSmallerThan,
    });
    expect(differences(await maskOf("masks/all"), gtU8(fx.maskFillAllHoles))).toBe(0);
  });

  it("refuses to replace a finished mask without overwrite, and bad parameters", async () => {
    await expect(
      runMask(ds, { ...base, output: "masks/morph", fillHoles: 0, removeSmall: 0 }),
    ).rejects.toThrow(/already exists; pass --overwrite/);
    await expect(
      runMask(ds, { ...base, output: "masks/x", windowLow: 200, windowHigh: 100 }),
    ).rejects.toThrow(/lo < hi/);
    await expect(runMask(ds, { ...base, array: "nope", output: "masks/y" })).rejects.toThrow(/no such array/);
  });
});
