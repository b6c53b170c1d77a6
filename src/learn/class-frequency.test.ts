import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import type { InferenceEngine } from "../engine/engine.ts";
import { tensor } from "../engine/tensor.ts";
import { foregroundFraction } from "./class-frequency.ts";
import { parseTrainConfig } from "./config.ts";
import { networkShape } from "./shapes.ts";
import { openSource } from "./sources.ts";
import { makeTinyCell, tempDir } from "./testing/datasets.ts";
import { validateRoi } from "./validate.ts";
import { balancedWeights } from "./weights.ts";

const tmp = tempDir();
const ball = (z: number, y: number, x: number) =>
  (z - 20) ** 2 + (y - 12) ** 2 + (x - 14) ** 2 < 49 ? 1 : 0;
const mask = (z: number, y: number) => (z < 36 && y > 1 ? 1 : 0);
const exclusion = (z: number, y: number, x: number) => (z === 18 && x < 6 ? 1 : 0);
const ROIS = [
  { name: "a", begin: coord(0, 0, 0), shape: coord(40, 28, 16) },
  { name: "b", begin: coord(30, 10, 4), shape: coord(10, 8, 20) },
];

beforeAll(async () => {
  await makeTinyCell(path.join(tmp.dir, "cell.zarr"), coord(40, 28, 28), {
    raw: () => 100,
    labels: ball,
    mask,
    exclusion,
    rois: ROIS.map((r) => ({ ...r, role: "training" as const })),
  });
});
afterAll(() => tmp.remove());

describe("class frequency over the training ROIs (loss.balance: dataset)", () => {
  it("counts foreground among the voxels inside each ROI, the mask and outside the exclusion zone, read in slabs", async () => {
    const cfg = parseTrainConfig(
      "organelle: mito\nloss: { balance: dataset }\nsources: [{ dataset: cell.zarr }]\n",
      path.join(tmp.dir, "train.yaml"),
    );
    expect(cfg.loss.balance).toBe("dataset");
    const src = await openSource(cfg.sources[0]!, null, null);
    // 40 z slices: two slabs of 32 voxels, the second partial
    let counted = 0;
    let fg = 0;
    for (const r of ROIS)
      for (let z = r.begin[0]; z < r.begin[0] + r.shape[0]; z++)
        for (let y = r.begin[1]; y < r.begin[1] + r.shape[1]; y++)
          for (let x = r.begin[2]; x < Math.min(28, r.begin[2] + r.shape[2]); x++) {
            if (!mask(z, y) || exclusion(z, y, x)) continue;
            counted++;
            fg += ball(z, y, x);
          }
    const f = await foregroundFraction([src]);
    expect(f.counted).toBe(counted);
    expect(f.foreground).toBe(fg);
    expect(f.fraction).toBeCloseTo(fg / counted, 12);
  });

  it("weights a block with the given fraction instead of its own", () => {
    const labels = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const own = balancedWeights(labels, null);
    expect(own.weightForeground).toBeCloseTo(1 / (2 * 0.1), 12);
    const fixed = balancedWeights(labels, null, [0.01, 0.99], 0.25);
    expect(fixed.weightForeground).toBeCloseTo(2, 12);
    expect(fixed.weightBackground).toBeCloseTo(1 / 1.5, 12);
    expect(fixed.foreground).toBeCloseTo(0.1, 12); // the block's own fraction is still reported
  });
});

describe("validation loss weighting", () => {
  it("is the plain mean cross-entropy with balanced: false and the ROI-balanced one by default", async () => {
    const cfg = parseTrainConfig(
      "organelle: mito\nmodel: tiny\nsources: [{ dataset: cell.zarr, rois: all, mask: none, exclusion: none }]\n",
      path.join(tmp.dir, "train.yaml"),
    );
    const src = await openSource(cfg.sources[0]!, null, null);
    const spec = cfg.model.spec;
    // An engine that calls every voxel foreground with probability 0.8.
    const engine: InferenceEngine = {
      forward: async (raw) => {
        const out = networkShape(spec, coord(raw.shape[2]!, raw.shape[3]!, raw.shape[4]!)).output;
        return tensor(new Float32Array(out[0] * out[1] * out[2]).fill(0.8), [1, 1, ...out]);
      },
      close: async () => {},
    };
    const roi = src.rois[0]!.roi;
    const o = { threshold: 0.5, maxInput: coord(36, 36, 36) };
    let fg = 0;
    for (let z = 0; z < 40; z++)
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) fg += ball(z, y, x);
    const n = 40 * 28 * 28;
    const plain = await validateRoi(engine, spec, src, "all", roi, { ...o, balanced: false });
    expect(plain.loss).toBeCloseTo((-fg * Math.log(0.8) - (n - fg) * Math.log(0.2)) / n, 6);
    const f = fg / n;
    const balanced = await validateRoi(engine, spec, src, "all", roi, o);
    expect(balanced.loss).toBeCloseTo(
      ((-fg * Math.log(0.8)) / (2 * f) - ((n - fg) * Math.log(0.2)) / (2 * (1 - f))) / n,
      6,
    );
    expect(plain.recall).toBe(1);
  });
});
