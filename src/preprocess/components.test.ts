import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countDifferences, rng } from "../../test/helpers/ops-fixtures.ts";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { connectedComponents } from "../ops/connected-components.ts";
import { fillHoles } from "../ops/fill-holes.ts";
import { gaussianSmooth } from "../ops/gaussian.ts";
import { removeSmallObjects } from "../ops/remove-small.ts";
import type { DType, VoxelArray } from "../store/dtype.ts";
import { Volume } from "../store/volume.ts";
import { type ComponentStage, runComponentLabelling, runComponentStage } from "./components.ts";
import { MIXED_ID } from "./components-task.ts";
import { cleanupJob, newRunId, runKey, withJob } from "./jobs.ts";

// Chunks (= blocks) of 8 voxels against blobs of tens of voxels, on a grid that is no multiple of
// them: every object and hole crosses block borders, so the merge of the saved runs decides them all.
const shape = coord(20, 27, 30);
const voxelSize = coord(5.2, 4, 4);
const CHUNK = 8;
const n = shape[0] * shape[1] * shape[2];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-components-"));
const ds = path.join(dir, "cell.zarr");
const pool = new WorkerPool({ workers: 2 });
const box = { begin: uniform(0), shape };
const rand = rng(3);
const noise = new Float32Array(n);
for (let i = 0; i < noise.length; i++) noise[i] = rand();
const smooth = gaussianSmooth(noise, shape, { sigma: coord(9, 9, 9), voxelSize });
let mean = 0;
for (const v of smooth) mean += v / smooth.length;
// Blobs with sparse specks flipped (islands and one-voxel holes) and a few larger bubbles.
const mask = Uint8Array.from(smooth, (v, i) => (v > mean !== (rand() < 0.004 || i % 977 === 0) ? 1 : 0));
/** The same mask as 0/255 (one non-zero value, not 1). */
const mask255 = Uint8Array.from(mask, (v) => v * 255);
/** Instance ids: the 6-connected components of the mask, uint16. */
const instances = Uint16Array.from(connectedComponents(mask, shape).labels);

async function write(name: string, dtype: DType, data: VoxelArray) {
  const v = await Volume.create(ds, name, { shape, dtype, voxelSize, chunks: uniform(CHUNK) });
  await v.writeBox(box, data);
  await v.markComplete();
}

beforeAll(async () => {
  await write("mask", "uint8", mask);
  await write("mask255", "uint8", mask255);
  await write("ids", "uint16", instances);
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function stage(st: ComponentStage, input: string, dtype: DType): Promise<VoxelArray> {
  const out = `out/${st.op}`;
  await Volume.create(ds, out, { shape, dtype, voxelSize, chunks: uniform(CHUNK), overwrite: true });
  const vol = await Volume.open(ds, input);
  const ref = (arrayPath: string) => ({ datasetPath: ds, arrayPath });
  await withJob(ds, runKey({ test: newRunId() }), newRunId(), { pool, progress: null }, async (job) => {
    const r = await runComponentStage(job, st, vol, ref(input), ref(out), CHUNK, st.op);
    await cleanupJob(job, r.phases);
  });
  return (await Volume.open(ds, out, { allowIncomplete: true })).readBox(box);
}

/** Instance hole filling by brute force: each enclosed background piece takes the one id around it. */
function fillInstanceHoles(ids: Uint16Array, s: Coordinate, smallerThan: number): Uint16Array {
  const bg = connectedComponents(
    Uint8Array.from(ids, (v) => (v !== 0 ? 1 : 0)),
    s,
    { ofZeros: true },
  );
  const [nz, ny, nx] = s;
  const around = new Float64Array(bg.count + 1);
  const size = new Float64Array(bg.count + 1);
  const border = new Uint8Array(bg.count + 1);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        const l = bg.labels[i]!;
        if (l === 0) continue;
        size[l]!++;
        if (z === 0 || y === 0 || x === 0 || z === nz - 1 || y === ny - 1 || x === nx - 1) border[l] = 1;
        for (const [dz, dy, dx] of [
          [0, 0, 1],
          [0, 0, -1],
          [0, 1, 0],
          [0, -1, 0],
          [1, 0, 0],
          [-1, 0, 0],
        ] as const) {
          const zz = z + dz;
          const yy = y + dy;
          const xx = x + dx;
          if (zz < 0 || yy < 0 || xx < 0 || zz >= nz || yy >= ny || xx >= nx) continue;
          const v = ids[(zz * ny + yy) * nx + xx]!;
          if (v === 0 || v === around[l]) continue;
          around[l] = around[l] === 0 ? v : MIXED_ID;
        }
      }
    }
  }
  return Uint16Array.from(ids, (v, i) => {
    const l = bg.labels[i]!;
    if (v !== 0 || l === 0) return v;
    const a = around[l]!;
    return border[l] === 0 && size[l]! < smallerThan && a !== 0 && a !== MIXED_ID ? a : 0;
  });
}

describe("component stages block-wise from saved runs", () => {
  it("remove small objects equals the whole-volume result, for 0/1 and 0/255 masks", async () => {
    for (const connectivity of [6, 26] as const) {
      const keep = removeSmallObjects(mask, shape, 40, { connectivity });
      expect(countDifferences(keep, mask)).toBeGreaterThan(0);
      const st: ComponentStage = { op: "removeSmall", minSize: 40, connectivity, instances: false };
      expect(countDifferences((await stage(st, "mask", "uint8")) as Uint8Array, keep)).toBe(0);
      const got255 = (await stage(st, "mask255", "uint8")) as Uint8Array;
      expect(
        countDifferences(
          got255,
          Uint8Array.from(keep, (v) => v * 255),
        ),
      ).toBe(0);
    }
  });

  it("fill holes (all, and only small ones counting border pieces) equals the whole-volume result", async () => {
    for (const [smallerThan, includeBorder] of [
      [Number.POSITIVE_INFINITY, false],
      [30, true],
    ] as const) {
      const want = fillHoles(mask, shape, { smallerThan, includeBorder });
      expect(countDifferences(want, mask)).toBeGreaterThan(0);
      const st: ComponentStage = {
        op: "fillHoles",
        smallerThan,
        includeBorder,
        connectivity: 6,
        instances: false,
      };
      expect(countDifferences((await stage(st, "mask", "uint8")) as Uint8Array, want)).toBe(0);
    }
  });

  it("keeps instance ids: binary removal over many ids reads them back, holes take the one id around", async () => {
    // the binary stage on an id volume: the block's non-zero voxels differ, so apply copies the ids
    const keep = removeSmallObjects(mask, shape, 40);
    const st: ComponentStage = { op: "removeSmall", minSize: 40, connectivity: 6, instances: false };
    const got = (await stage(st, "ids", "uint16")) as Uint16Array;
    expect(
      countDifferences(
        got,
        Uint16Array.from(instances, (v, i) => (keep[i] ? v : 0)),
      ),
    ).toBe(0);
    const holes: ComponentStage = {
      op: "fillHoles",
      smallerThan: 200,
      includeBorder: false,
      connectivity: 6,
      instances: true,
    };
    const want = fillInstanceHoles(instances, shape, 200);
    expect(countDifferences(want, instances)).toBeGreaterThan(0);
    expect(countDifferences((await stage(holes, "ids", "uint16")) as Uint16Array, want)).toBe(0);
  });

  it("connected components painted from the saved runs: scipy's ids on the whole volume", async () => {
    const vol = await Volume.open(ds, "mask");
    const ref = (arrayPath: string) => ({ datasetPath: ds, arrayPath });
    for (const connectivity of [6, 26] as const) {
      const want = connectedComponents(mask, shape, { connectivity });
      await Volume.create(ds, "out/cc", {
        shape,
        dtype: "uint32",
        voxelSize,
        chunks: uniform(CHUNK),
        overwrite: true,
      });
      const count = await withJob(
        ds,
        runKey({ test: newRunId() }),
        newRunId(),
        { pool, progress: null },
        async (job) => {
          const r = await runComponentLabelling(
            job,
            vol,
            ref("mask"),
            ref("out/cc"),
            connectivity,
            CHUNK,
            "cc",
          );
          await cleanupJob(job, r.phases);
          return r.count;
        },
      );
      expect(count).toBe(want.count);
      const got = await (await Volume.open(ds, "out/cc", { allowIncomplete: true })).readBox(box);
      expect(countDifferences(got as Uint32Array, want.labels)).toBe(0);
    }
  });
});
