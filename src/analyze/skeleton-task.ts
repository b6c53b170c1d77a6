import * as path from "node:path";
import type { Block, BlockContext } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";
import { distanceTransform } from "../ops/edt.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import {
  boxMeets,
  globalIndices,
  readObjectMask,
  readSparse,
  scatterSparse,
  writeSparse,
} from "./object-voxels.ts";
import { PLANAR_THRESHOLD, planarityAt, planarityMargin } from "./planarity.ts";
import { skeletonStats } from "./skeleton-graph.ts";
import { skeletonize3d } from "./skeletonize.ts";

/*
 * Block functions of `organelle skeleton`:
 *
 *   analyze.skeletonObjects  objects k..k+n of a virtual 1 x 1 x N grid (so objects run in parallel
 *                            and resumably through the block-wise runner): each object is read whole
 *                            from its bounding box plus a margin, whatever blocks it spans, thinned
 *                            and measured; its output voxels go to a sparse file pair in `dir`
 *                            (`<id>.idx`: float64 flat indices in the array, `<id>.val`: values).
 *   analyze.skeletonWrite    one chunk-aligned block of the output array: the sparse values of the
 *                            objects whose boxes meet it, zero elsewhere.
 *
 * Memory per object is its box (plus margin) in a few typed arrays: bounded by the object, not the
 * cell. An object as large as the cell (one connected ER) costs a cell-sized crop.
 */

export type SkeletonKind = "mito" | "er";

export interface SkeletonObjectsParams {
  readonly input: ArrayRef;
  readonly kind: SkeletonKind;
  readonly ids: Float64Array;
  /** Voxel boxes: begin z, y, x, end z, y, x (exclusive) per object. */
  readonly boxes: Float64Array;
  /** mito: branches shorter than this many nm are pruned. */
  readonly prune: number;
  /** er: Gaussian sigmas (nm) of the planarity. */
  readonly scales: readonly number[];
  readonly dir: string;
}

/** Numbers per object of `analyze.skeletonObjects`, in this order. */
export const MITO_FIELDS = [
  "id",
  "length",
  "totalLength",
  "branches",
  "ends",
  "junctions",
  "pruned",
  "radiusMean",
  "radiusSd",
  "skeletonVoxels",
] as const;
export const ER_FIELDS = ["id", "medialVoxels", "planarityMean", "planarityMedian", "planarVoxels"] as const;

export interface SkeletonWriteParams {
  readonly output: ArrayRef;
  readonly ids: Float64Array;
  readonly boxes: Float64Array;
  readonly dir: string;
}

const WHAT = "skeleton voxels";

export async function skeletonObjectsBlock(
  block: Block,
  p: SkeletonObjectsParams,
  ctx: BlockContext,
): Promise<number[]> {
  const vol = await Volume.open(p.input.datasetPath, p.input.arrayPath);
  const vs = vol.meta.voxelSize;
  const full = vol.meta.shape;
  const margin = p.kind === "er" ? planarityMargin(p.scales, vs) : coord(1, 1, 1);
  const first = block.writeRoi.offset[2];
  const last = first + block.writeRoi.shape[2];
  const out: number[] = [];
  for (let k = first; k < last; k++) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const id = p.ids[k]!;
    const b = (d: number) => p.boxes[6 * k + d]!;
    const begin = coord(b(0) - margin[0], b(1) - margin[1], b(2) - margin[2]);
    const shape = coord(
      b(3) - b(0) + 2 * margin[0],
      b(4) - b(1) + 2 * margin[1],
      b(5) - b(2) + 2 * margin[2],
    );
    const mask = await readObjectMask(
      vol,
      id,
      begin,
      shape,
      ctx.signal,
      "; the measure table belongs to another array — run with --remeasure",
    );
    if (p.kind === "mito") {
      const skeleton = skeletonize3d(mask, shape);
      const s = skeletonStats(skeleton, shape, vs, p.prune);
      const edt = distanceTransform(mask, shape, { voxelSize: vs, outside: "sources" });
      const { mean, sd } = meanSd(s.voxels, edt);
      await writeSparse(path.join(p.dir, `${id}.idx`), globalIndices(s.voxels, begin, shape, full), WHAT);
      await writeSparse(path.join(p.dir, `${id}.val`), new Uint32Array(s.voxels.length).fill(id), WHAT);
      out.push(
        id,
        s.length,
        s.totalLength,
        s.branches,
        s.ends,
        s.junctions,
        s.pruned,
        mean,
        sd,
        s.voxels.length,
      );
    } else {
      const medial = skeletonize3d(mask, shape, { mode: "surface" });
      const points = indicesOf(medial);
      const planarity = planarityAt(mask, shape, vs, points, p.scales);
      const scaled = new Uint8Array(planarity.length);
      let sum = 0;
      let planar = 0;
      for (let j = 0; j < planarity.length; j++) {
        const v = planarity[j]!;
        sum += v;
        if (v >= PLANAR_THRESHOLD) planar++;
        scaled[j] = 1 + Math.round(v * 254);
      }
      await writeSparse(path.join(p.dir, `${id}.idx`), globalIndices(points, begin, shape, full), WHAT);
      await writeSparse(path.join(p.dir, `${id}.val`), scaled, WHAT);
      const sorted = Float64Array.from(planarity).sort();
      out.push(id, points.length, sum / Math.max(1, points.length), median(sorted), planar);
    }
  }
  return out;
}

function indicesOf(a: Uint8Array): Int32Array {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i]) n++;
  const out = new Int32Array(n);
  n = 0;
  for (let i = 0; i < a.length; i++) if (a[i]) out[n++] = i;
  return out;
}

function meanSd(at: Int32Array, values: Float64Array): { mean: number; sd: number } {
  if (at.length === 0) return { mean: 0, sd: 0 };
  let s = 0;
  for (const i of at) s += values[i]!;
  const mean = s / at.length;
  let q = 0;
  for (const i of at) q += (values[i]! - mean) ** 2;
  return { mean, sd: Math.sqrt(q / at.length) };
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const h = n >> 1;
  return n % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
}

async function readSkeletonVoxels(dir: string, id: number, dtype: "uint8" | "uint32") {
  const idx = new Float64Array(await readSparse(path.join(dir, `${id}.idx`), WHAT));
  const raw = await readSparse(path.join(dir, `${id}.val`), WHAT);
  const val = dtype === "uint8" ? new Uint8Array(raw) : new Uint32Array(raw);
  return { idx, val };
}

export async function skeletonWriteBlock(block: Block, p: SkeletonWriteParams, ctx: BlockContext) {
  const dst = await Volume.open(p.output.datasetPath, p.output.arrayPath, { allowIncomplete: true });
  const dtype = dst.meta.dtype;
  if (dtype !== "uint8" && dtype !== "uint32")
    throw invalidData(`${dst.describe()}: expected uint8 or uint32`);
  const box = dst.boxOf(block.writeRoi);
  const [nz, ny, nx] = box.shape;
  const data = dtype === "uint8" ? new Uint8Array(nz * ny * nx) : new Uint32Array(nz * ny * nx);
  for (let k = 0; k < p.ids.length; k++) {
    // skeleton and medial voxels lie inside their object's box
    if (!boxMeets(p.boxes, k, box.begin, box.shape)) continue;
    const { idx, val } = await readSkeletonVoxels(p.dir, p.ids[k]!, dtype);
    scatterSparse(data, box.begin, box.shape, dst.meta.shape, idx, val);
  }
  await dst.writeBox(box, data, { signal: ctx.signal });
}
