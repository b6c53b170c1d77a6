import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphCut } from "../src/annotate/graphcut.ts";
import { f1Score, simulateStrokes } from "../src/annotate/testing.ts";
import { coord } from "../src/core/coordinate.ts";
import { Roi } from "../src/core/roi.ts";
import { Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { boxAroundLabels, readArray, synthCell } from "./helpers/synth.ts";

/**
 * `organelle graphcut` end to end: a synthetic cell, seeds painted on three planes of a 48^3 ROI around
 * its mitochondria, the cut written into a fresh label array (only the ROI; it equals the library's cut
 * on the same data), and the ROI registered as a training block. Segmentation quality is tested in
 * src/annotate/graphcut.test.ts.
 */

const { dir, cleanup } = tempDir("organelle-graphcut-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");
const VOX = 20;
const ROI_VOXELS = 48;
let roi: Roi;
let truth: Uint8Array;
let expected: Uint8Array;

beforeAll(async () => {
  synthCell(ds, { voxelSize: VOX, sizeUm: 2, seed: 1 });
  const { v: labels, data: all } = await readArray(ds, "labels/mito");
  // the ROI centred on the mito voxels' centroid
  const box = boxAroundLabels(all, labels.meta.shape, ROI_VOXELS);
  roi = Roi.fromVoxels(box, labels.meta.voxelSize, labels.meta.offset);
  truth = (await labels.readBox(box)) as Uint8Array;
  for (let i = 0; i < truth.length; i++) truth[i] = truth[i] ? 1 : 0;
  const raw = await Volume.open(ds, "raw");
  const grey = (await raw.readBox(box)) as Uint8Array;
  const seeds = simulateStrokes(
    { raw: grey, truth, shape: box.shape, voxelSize: raw.meta.voxelSize },
    {
      planes: [
        [0, 16],
        [0, 32],
        [2, 24],
      ],
      diskRadius: 4,
      margin: 1,
    },
  );
  const seedArray = await Volume.create(ds, "annotations/mito_seeds", {
    shape: raw.meta.shape,
    dtype: "uint8",
    voxelSize: raw.meta.voxelSize,
    offset: raw.meta.offset,
    chunks: coord(32, 32, 32),
    kind: "label",
  });
  await seedArray.writeBox(box, seeds);
  await seedArray.markComplete();
  expected = graphCut(grey, box.shape, seeds, {
    voxelSize: raw.meta.voxelSize,
    slic: { nSegments: 1500 },
  }).mask;
}, 180_000);

describe("organelle graphcut", () => {
  it("segments the ROI from seeds into a label array and registers the ROI", async () => {
    const r = organelle([
      "graphcut",
      ds,
      "--roi",
      `${roi.offset.join(",")}:${roi.shape.join(",")}`,
      "--seeds",
      "annotations/mito_seeds",
      "--out",
      "labels/mito",
      "--supervoxels",
      "1500",
      "--role",
      "training",
      "--overwrite",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/labels\/mito: \d+ of 110592 voxels foreground/);
    const out = await Volume.open(ds, "labels/mito");
    const mask = (await out.readRoi(roi)) as Uint8Array;
    // the CLI writes exactly the library's cut into the ROI, and nothing outside it
    expect(Buffer.from(mask).equals(Buffer.from(expected))).toBe(true);
    expect(f1Score(mask, truth)).toBeGreaterThan(0);
    const whole = await out.readBox({ begin: coord(0, 0, 0), shape: out.meta.shape });
    let total = 0;
    for (let i = 0; i < whole.length; i++) total += Number(whole[i]!);
    expect(total).toBe(mask.reduce((a, b) => a + b, 0));
    const attrs = out.attrs as { rois?: { role: string; offset: number[] }[] };
    expect(attrs.rois?.some((x) => x.role === "training" && x.offset.join() === roi.offset.join())).toBe(
      true,
    );
  });

  it("names the missing seed array in one line", () => {
    const r = organelle([
      "graphcut",
      ds,
      "--roi",
      `${roi.offset.join(",")}:${roi.shape.join(",")}`,
      "--seeds",
      "annotations/nothing",
      "--out",
      "labels/mito",
    ]);
    expect(expectOneLineError(r)).toMatch(/--seeds annotations\/nothing: no such array/);
  });
});
