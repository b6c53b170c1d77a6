import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { wholeVolume } from "../ops/block-geometry.ts";
import { connectedComponents } from "../ops/connected-components.ts";
import { fillHoles } from "../ops/fill-holes.ts";
import { gaussianBlock } from "../ops/gaussian.ts";
import { removeSmallObjects } from "../ops/remove-small.ts";
import { Volume } from "../store/volume.ts";
import { dropList, type RefineOptions, runRefine } from "./refine.ts";

/*
 * `organelle refine` against the same steps on the whole volume in memory (the scipy-exact ops of
 * src/ops): Gaussian smoothing (with its border handling), threshold, masking by another class, hole
 * filling, size filter, scipy-numbered components and keep/remove lists — block-wise in 24^3 blocks
 * on two workers, and in one block.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-refine-"));
const ds = path.join(dir, "cell.zarr");
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const SHAPE = coord(40, 48, 56);
const VS = 4;
const N = SHAPE[0] * SHAPE[1] * SHAPE[2];
let pred: Uint8Array;
let probs: Float32Array;
let cellMask: Uint8Array;

/** Balls (z, y, x, radius in voxels, hollow inner radius), speckle, a mask over x < 36. */
const BALLS: readonly (readonly [number, number, number, number, number])[] = [
  [10, 12, 12, 7, 0],
  [12, 30, 14, 5, 0],
  [26, 24, 26, 9, 4], // hollow: a hole to fill
  [30, 10, 44, 6, 0], // beyond the mask (x >= 36) except its edge
  [8, 40, 40, 2, 0], // small
  [33, 40, 10, 3, 0],
];

beforeAll(async () => {
  pred = new Uint8Array(N);
  probs = new Float32Array(N);
  cellMask = new Uint8Array(N);
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let z = 0; z < SHAPE[0]; z++)
    for (let y = 0; y < SHAPE[1]; y++)
      for (let x = 0; x < SHAPE[2]; x++) {
        const i = (z * SHAPE[1] + y) * SHAPE[2] + x;
        let inside = false;
        for (const [cz, cy, cx, r, hollow] of BALLS) {
          const d2 = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2;
          if (d2 <= r * r && d2 > hollow * hollow) inside = true;
        }
        const noise = Math.floor(rand() * 60);
        // Isolated bright specks survive a threshold without smoothing, not with it.
        const speck = rand() < 0.003;
        pred[i] = inside ? 190 + noise : speck ? 250 : noise;
        probs[i] = pred[i]! / 255;
        cellMask[i] = x < 36 ? 1 : 0;
      }
  const create = async (
    name: string,
    dtype: "uint8" | "float32",
    kind: "intensity" | "mask",
    data: Uint8Array | Float32Array,
  ) => {
    const v = await Volume.create(ds, name, {
      shape: SHAPE,
      dtype,
      voxelSize: uniform(VS),
      offset: coord(0, 40, 80),
      chunks: uniform(8),
      kind,
    });
    await v.writeBox({ begin: uniform(0), shape: SHAPE }, data);
    await v.markComplete();
  };
  await create("predictions/mito", "uint8", "intensity", pred);
  await create("predictions/mito_f32", "float32", "intensity", probs);
  await create("masks/cell", "uint8", "mask", cellMask);
});

interface Reference {
  sigma: number;
  threshold: number;
  minVoxels: number;
  mask?: "inside" | "outside";
  fill: boolean;
  drop: (count: number) => readonly number[];
  input: Uint8Array | Float32Array;
}

/** The whole-volume computation of the same steps. */
function reference(r: Reference): { labels: Uint32Array; count: number } {
  const smooth =
    r.sigma > 0
      ? gaussianBlock(r.input, wholeVolume(SHAPE), { sigma: uniform(r.sigma), voxelSize: uniform(VS) })
      : r.input;
  const t = r.input instanceof Uint8Array ? r.threshold * 255 : r.threshold;
  let fg: Uint8Array = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const inMask = cellMask[i] !== 0;
    fg[i] = smooth[i]! > t && (r.mask === undefined || inMask === (r.mask === "inside")) ? 1 : 0;
  }
  if (r.fill) fg = fillHoles(fg, SHAPE, { connectivity: 6 });
  if (r.minVoxels > 0) fg = removeSmallObjects(fg, SHAPE, r.minVoxels, { connectivity: 6 });
  const cc = connectedComponents(fg, SHAPE, { connectivity: 6 });
  const drop = new Set(r.drop(cc.count));
  for (let i = 0; i < N; i++) if (drop.has(cc.labels[i]!)) cc.labels[i] = 0;
  return cc;
}

async function refined(opts: Partial<RefineOptions> & { output: string }) {
  const r = await runRefine(ds, {
    input: "predictions/mito",
    organelle: "mito",
    pool,
    progress: null,
    ...opts,
  });
  const v = await Volume.open(ds, opts.output);
  const data = (await v.readBox({ begin: uniform(0), shape: SHAPE })) as Uint32Array;
  return { r, data };
}

const same = (a: Uint32Array, b: Uint32Array) => {
  expect(a.length).toBe(b.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
  expect(diff).toBe(0);
};

const volume = (v: number) => v * VS ** 3;

describe("organelle refine", () => {
  it("smooths (sigma 8 nm), thresholds, masks by masks/cell, fills holes, filters by size and keeps listed ids: 24^3 blocks (boundaries inside objects) == one block == whole volume", async () => {
    const minVoxels = 200;
    const expected = reference({
      sigma: 8,
      threshold: 0.4,
      minVoxels,
      mask: "inside",
      fill: true,
      drop: (count) => Array.from({ length: count }, (_, k) => k + 1).filter((id) => id !== 1 && id !== 3),
      input: pred,
    });
    // The steps must matter on this volume: smoothing removes the specks, the mask cuts a ball, the
    // size filter removes the small ball, the keep list some of what is left.
    expect(expected.count).toBe(3);
    const opts = {
      sigma: 8,
      threshold: 0.4,
      minVolume: volume(minVoxels),
      maskBy: "masks/cell",
      maskMode: "inside" as const,
      keep: [1, 3],
    };
    const blocks = await refined({ ...opts, output: "segmentations/a", blockVoxels: 24 });
    expect(blocks.r.objects).toBe(expected.count);
    expect(blocks.r.kept).toBe(2);
    expect(blocks.r.minVoxels).toBe(minVoxels);
    same(blocks.data, expected.labels);
    const ids = new Set(blocks.data);
    expect([...ids].sort()).toEqual([0, 1, 3]);
    // The hollow ball's hole is filled: its centre voxel carries an id.
    const centre = (26 * SHAPE[1] + 24) * SHAPE[2] + 26;
    expect(pred[centre]).toBeLessThan(60);
    const one = await refined({ ...opts, output: "segmentations/b", blockVoxels: 64 });
    same(one.data, blocks.data);
    // Nothing beyond the mask.
    let outside = 0;
    for (let i = 0; i < N; i++) if (cellMask[i] === 0 && blocks.data[i] !== 0) outside++;
    expect(outside).toBe(0);
  }, 60_000);

  it("thresholds float32 probabilities without smoothing, masks outside a class, keeps holes and removes listed ids", async () => {
    const expected = reference({
      sigma: 0,
      threshold: 0.7,
      minVoxels: 0,
      mask: "outside",
      fill: false,
      drop: () => [1],
      input: probs,
    });
    const r = await refined({
      input: "predictions/mito_f32",
      output: "segmentations/c",
      sigma: 0,
      threshold: 0.7,
      minVolume: 0,
      fillHoles: false,
      maskBy: "masks/cell",
      maskMode: "outside",
      remove: [1],
      blockVoxels: 24,
    });
    same(r.data, expected.labels);
    expect(r.r.kept).toBe(expected.count - 1);
    let inside = 0;
    for (let i = 0; i < N; i++) if (cellMask[i] !== 0 && r.data[i] !== 0) inside++;
    expect(inside).toBe(0);
  }, 60_000);

  it("turns a uint8 threshold of 0.5 into v >= 128, and without the size filter keeps the specks the smoothing would remove", async () => {
    const expected = reference({
      sigma: 0,
      threshold: 0.5,
      minVoxels: 0,
      fill: true,
      drop: () => [],
      input: pred,
    });
    const r = await refined({ output: "segmentations/d", sigma: 0, minVolume: 0, blockVoxels: 24 });
    same(r.data, expected.labels);
    // Specks (value 250) count as objects here.
    expect(r.r.objects).toBeGreaterThan(BALLS.length + 5);
    // The preset's minimum size applies without --min-volume: 300,000 nm^3 for mito.
    const p = await refined({ output: "segmentations/e", sigma: 0, blockVoxels: 24 });
    expect(p.r.minVolume).toBe(300_000);
    expect(p.r.minVoxels).toBe(Math.ceil(300_000 / 64));
    same(
      p.data,
      reference({
        sigma: 0,
        threshold: 0.5,
        minVoxels: p.r.minVoxels,
        fill: true,
        drop: () => [],
        input: pred,
      }).labels,
    );
  }, 60_000);

  it("says what is wrong with keep/remove lists and options", async () => {
    expect(Array.from(dropList(5, [2, 4]))).toEqual([1, 3, 5]);
    expect(Array.from(dropList(5, undefined, [4, 2, 4]))).toEqual([2, 4]);
    expect(Array.from(dropList(5))).toEqual([]);
    expect(() => dropList(3, [4])).toThrow(/id 4 in --keep\/--remove: refine found ids 1\.\.3/);
    await expect(
      runRefine(ds, { input: "predictions/mito", organelle: "mito", keep: [1], remove: [2], progress: null }),
    ).rejects.toThrow(/pass one of them/);
    await expect(
      runRefine(ds, { input: "predictions/mito", organelle: "mito", sigma: -1, progress: null }),
    ).rejects.toThrow(/--sigma/);
    await expect(
      runRefine(ds, { input: "predictions/mito", organelle: "mito", output: "predictions/mito" }),
    ).rejects.toThrow(/cannot replace its input/);
  });
});
