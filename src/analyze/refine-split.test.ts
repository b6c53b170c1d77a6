import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { wholeVolume } from "../ops/block-geometry.ts";
import { connectedComponents } from "../ops/connected-components.ts";
import { gaussianBlock } from "../ops/gaussian.ts";
import { Volume } from "../store/volume.ts";
import { type RefineOptions, runRefine } from "./refine.ts";
import { DEFAULT_MERGE_THRESHOLD, type SplitParams, splitLabels } from "./split.ts";

/*
 * `organelle refine --split` block-wise (8^3 chunks, 16^3 blocks, objects spanning many blocks, two
 * workers, one object per task) against threshold + scipy-numbered components + the in-memory split
 * of the whole volume: two touching balls and a dumbbell split, a rod and a lone ball stay whole.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-refine-split-"));
const ds = path.join(dir, "cell.zarr");
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const SHAPE = coord(28, 56, 72);
const VS = 8;
const N = SHAPE[0] * SHAPE[1] * SHAPE[2];
let pred: Uint8Array;

const inBall = (z: number, y: number, x: number, c: readonly number[], r: number) =>
  (z - c[0]!) ** 2 + (y - c[1]!) ** 2 + (x - c[2]!) ** 2 <= r * r;

beforeAll(async () => {
  pred = new Uint8Array(N);
  for (let z = 0; z < SHAPE[0]; z++)
    for (let y = 0; y < SHAPE[1]; y++)
      for (let x = 0; x < SHAPE[2]; x++) {
        const twoBalls = inBall(z, y, x, [14, 12, 14], 10) || inBall(z, y, x, [14, 12, 31], 10);
        const dumbbell =
          inBall(z, y, x, [14, 40, 8], 7) ||
          inBall(z, y, x, [14, 40, 36], 7) ||
          ((z - 14) ** 2 + (y - 40) ** 2 <= 6 && x >= 8 && x <= 36);
        const dx = Math.max(0, 50 - x, x - 66);
        const rod = (z - 14) ** 2 + (y - 14) ** 2 + dx * dx <= 36;
        const lone = inBall(z, y, x, [14, 42, 58], 8);
        // the balls' prediction falls from the centres to 0.5 at the surface, so it dips at their neck
        const d = Math.min(Math.hypot(z - 14, y - 12, x - 14), Math.hypot(z - 14, y - 12, x - 31)) / 10;
        const i = (z * SHAPE[1] + y) * SHAPE[2] + x;
        pred[i] = twoBalls ? Math.round(255 * (1 - 0.5 * d * d)) : dumbbell || rod || lone ? 230 : 20;
      }
  const v = await Volume.create(ds, "predictions/mito", {
    shape: SHAPE,
    dtype: "uint8",
    voxelSize: uniform(VS),
    offset: coord(0, 0, 0),
    chunks: uniform(8),
    kind: "intensity",
  });
  await v.writeBox({ begin: uniform(0), shape: SHAPE }, pred);
  await v.markComplete();
});

const PARAMS: SplitParams = {
  seeds: "distance",
  minSeedDistance: 100,
  seedThreshold: 0,
  mergeQuantile: 0.5,
  mergeThreshold: DEFAULT_MERGE_THRESHOLD.distance,
};

function reference(sigma: number, p: SplitParams) {
  const smooth =
    sigma > 0
      ? gaussianBlock(pred, wholeVolume(SHAPE), { sigma: uniform(sigma), voxelSize: uniform(VS) })
      : pred;
  const fg = new Uint8Array(N);
  for (let i = 0; i < N; i++) fg[i] = smooth[i]! > 127.5 ? 1 : 0;
  const cc = connectedComponents(fg, SHAPE, { connectivity: 6 });
  const probs = Float32Array.from(smooth, (v) => v / 255);
  return { count: cc.count, ...splitLabels(cc.labels, SHAPE, uniform(VS), p, probs) };
}

async function refined(opts: Partial<RefineOptions> & { output: string }) {
  const r = await runRefine(ds, {
    input: "predictions/mito",
    organelle: "mito",
    sigma: 0,
    minVolume: 0,
    split: true,
    pool,
    progress: null,
    ...opts,
  });
  const v = await Volume.open(ds, opts.output);
  const data = (await v.readBox({ begin: uniform(0), shape: SHAPE })) as Uint32Array;
  return { r, data };
}

describe("refine --split", () => {
  it("block-wise with two workers equals the in-memory split: the balls and the dumbbell split", async () => {
    const ref = reference(0, PARAMS);
    expect(ref.count).toBe(4);
    expect(ref.split).toBe(2);
    expect(ref.added).toBe(2);
    const { r, data } = await refined({ output: "segmentations/split", blockVoxels: 16, objectsPerBlock: 1 });
    expect(r.split).toMatchObject({ split: 2, added: 2 });
    expect(r.split?.params.minSeedDistance).toBe(100);
    expect(data).toEqual(ref.labels);
    const ids = new Set(data);
    expect([...ids].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // one block and several objects per task: the same ids
    const one = await refined({ output: "segmentations/split1", blockVoxels: 256 });
    expect(one.data).toEqual(ref.labels);
    expect(r.levels).toBe(1);
  });

  it("prediction seeds from the smoothed prediction equal the in-memory split", async () => {
    const p: SplitParams = {
      ...PARAMS,
      seeds: "prediction",
      mergeThreshold: 0.7,
    };
    const ref = reference(12, p);
    const { data } = await refined({
      output: "segmentations/split_pred",
      sigma: 12,
      seeds: "prediction",
      mergeThreshold: 0.7,
      blockVoxels: 16,
    });
    expect(data).toEqual(ref.labels);
    expect(ref.split).toBeGreaterThanOrEqual(1);
    expect(data[(14 * SHAPE[1] + 12) * SHAPE[2] + 14]).not.toBe(data[(14 * SHAPE[1] + 12) * SHAPE[2] + 31]);
  });

  it("without --split and with a high merge threshold", async () => {
    const plain = await refined({ output: "segmentations/plain", split: false });
    expect(plain.r.split).toBeUndefined();
    expect(Math.max(...new Set(plain.data))).toBe(4);
    const over = await refined({ output: "segmentations/over", mergeThreshold: 2, blockVoxels: 16 });
    const ref = reference(0, { ...PARAMS, mergeThreshold: 2 });
    expect(over.data).toEqual(ref.labels);
    expect(over.r.split?.added).toBe(ref.added);
  });

  it("rejects a bad split option in one line naming it", async () => {
    await expect(refined({ output: "segmentations/bad", mergeQuantile: 1.5 })).rejects.toThrow(
      /--merge-quantile 1.5/,
    );
  });
});
