import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countDifferences, rng } from "../../test/helpers/ops-fixtures.ts";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { connectedComponents } from "../ops/connected-components.ts";
import { distanceTransform } from "../ops/edt.ts";
import { gaussianSmooth } from "../ops/gaussian.ts";
import { binaryClosing, binaryDilation, binaryErosion, binaryOpening } from "../ops/morphology.ts";
import type { DType } from "../store/dtype.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";
import { runComponentLabelling } from "./components.ts";
import { cleanupJob, type JobContext, newRunId, runKey, withJob } from "./jobs.ts";
import { type LocalOp, runLocalOp } from "./ops.ts";

// Blocks of 8 voxels (one chunk) per axis against blobs of tens of voxels, on an anisotropic grid
// whose shape is no multiple of the blocks: every object, hole and distance crosses block borders.
const shape = coord(27, 38, 43);
const voxelSize = coord(5.2, 4, 4);
const BLOCK = coord(8, 8, 8);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-ops-"));
const ds = path.join(dir, "cell.zarr");
const pool = new WorkerPool({ workers: 2 });
const box = { begin: uniform(0), shape };
const rand = rng(11);
const noise = new Float32Array(shape[0] * shape[1] * shape[2]);
for (let i = 0; i < noise.length; i++) noise[i] = rand();
const smooth = gaussianSmooth(noise, shape, { sigma: coord(10, 10, 10), voxelSize });
let mean = 0;
for (const v of smooth) mean += v / smooth.length;
// Large blobs with sparse specks flipped: holes, islands, and objects that span several blocks.
const mask = Uint8Array.from(smooth, (v) => (v > mean !== rand() < 0.003 ? 1 : 0));

beforeAll(async () => {
  for (const [name, data] of [
    ["mask", mask],
    ["grey", Uint8Array.from(smooth, (v) => Math.round((v - 0.3) * 600))],
  ] as const) {
    const v = await Volume.create(ds, name, { shape, dtype: "uint8", voxelSize, chunks: uniform(8) });
    await v.writeBox(box, data);
    await v.markComplete();
  }
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ref = (arrayPath: string): ArrayRef => ({ datasetPath: ds, arrayPath });

async function job<T>(body: (job: JobContext) => Promise<T>): Promise<T> {
  return withJob(ds, runKey({ test: newRunId() }), newRunId(), { pool, progress: null }, body);
}

async function run(op: LocalOp, input: string, output: string, dtype: DType) {
  const src = await Volume.open(ds, input);
  await Volume.create(ds, output, { shape, dtype, voxelSize, chunks: uniform(8), overwrite: true });
  await job(async (j) => {
    const phase = await runLocalOp(j, op, src, ref(input), ref(output), BLOCK);
    await cleanupJob(j, [phase]);
  });
  return (await Volume.open(ds, output, { allowIncomplete: true })).readBox(box);
}

describe("local ops block-wise through the worker runner", () => {
  const morph = {
    dilation: binaryDilation,
    erosion: binaryErosion,
    opening: binaryOpening,
    closing: binaryClosing,
  };
  for (const operation of ["dilation", "erosion", "opening", "closing"] as const) {
    for (const borderValue of [0, 1] as const) {
      it(`binary ${operation} with a 13 nm ball, border ${borderValue}, equals the whole-volume result`, async () => {
        const want = morph[operation](mask, shape, 13, { voxelSize, borderValue });
        const got = await run(
          { op: "morphology", operation, radius: 13, borderValue },
          "mask",
          "out/m",
          "uint8",
        );
        expect(countDifferences(got as Uint8Array, want)).toBe(0);
      });
    }
  }

  it("distance transform, inside and outside, float64 and float32, with a bound past every distance", async () => {
    for (const of of ["foreground", "background"] as const) {
      const whole = distanceTransform(mask, shape, { voxelSize, of });
      let max = 0;
      for (const d of whole) if (d < Number.POSITIVE_INFINITY) max = Math.max(max, d);
      expect(max).toBeGreaterThan(16); // reaches into the neighbouring blocks (8 voxels = 32 nm wide)
      const got = (await run(
        { op: "distance", of, maxDistance: max + 1 },
        "mask",
        "out/d",
        "float64",
      )) as Float64Array;
      let worst = 0;
      for (let i = 0; i < got.length; i++)
        worst = Math.max(worst, Math.abs(got[i]! - whole[i]!) / (whole[i]! || 1));
      expect(worst).toBeLessThan(1e-12);
      const f32 = await run({ op: "distance", of, maxDistance: max + 1 }, "mask", "out/d32", "float32");
      expect(countDifferences(f32 as Float32Array, Float32Array.from(got))).toBe(0);
    }
  });

  it("distance transform with a bound below the largest distance: Infinity beyond it, as whole-volume", async () => {
    const whole = distanceTransform(mask, shape, { voxelSize, maxDistance: 15 });
    const got = (await run({ op: "distance", maxDistance: 15 }, "mask", "out/d", "float64")) as Float64Array;
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      if (whole[i] === Number.POSITIVE_INFINITY) expect(got[i]).toBe(Number.POSITIVE_INFINITY);
      else worst = Math.max(worst, Math.abs(got[i]! - whole[i]!) / (whole[i]! || 1));
    }
    expect(worst).toBeLessThan(1e-12);
    await expect(run({ op: "distance", maxDistance: Infinity }, "mask", "out/d", "float64")).rejects.toThrow(
      /finite number > 0/,
    );
  });

  it("Gaussian smoothing to the input's type and to float32 equals the whole-volume result bit for bit", async () => {
    const src = (await (await Volume.open(ds, "grey")).readBox(box)) as Uint8Array;
    const params = { sigma: coord(12, 12, 12), voxelSize };
    const got = await run({ op: "gaussian", sigma: params.sigma }, "grey", "out/g", "uint8");
    expect(countDifferences(got as Uint8Array, gaussianSmooth(src, shape, params))).toBe(0);
    const f = await run({ op: "gaussian", sigma: params.sigma }, "grey", "out/gf", "float32");
    expect(
      countDifferences(f as Float32Array, gaussianSmooth(src, shape, params, { output: "float32" })),
    ).toBe(0);
    await expect(run({ op: "gaussian", sigma: params.sigma }, "grey", "out/g16", "uint16")).rejects.toThrow(
      /gaussian of .*grey writes uint8 or float32/,
    );
  });
});

describe("connected components block-wise through the worker runner", () => {
  for (const connectivity of [6, 26] as const) {
    it(`${connectivity}-connectivity: the same ids as a whole-volume labelling (scipy's numbering)`, async () => {
      const want = connectedComponents(mask, shape, { connectivity });
      expect(want.count).toBeGreaterThan(3);
      const src = await Volume.open(ds, "mask");
      await Volume.create(ds, "out/cc", {
        shape,
        dtype: "uint32",
        voxelSize,
        chunks: uniform(8),
        overwrite: true,
      });
      const count = await job(async (j) => {
        const r = await runComponentLabelling(j, src, ref("mask"), ref("out/cc"), connectivity, 8, "cc");
        await cleanupJob(j, r.phases);
        return r.count;
      });
      expect(count).toBe(want.count);
      const got = await (await Volume.open(ds, "out/cc", { allowIncomplete: true })).readBox(box);
      expect(countDifferences(got as Uint32Array, want.labels)).toBe(0);
    });
  }
});
