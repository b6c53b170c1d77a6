import * as path from "node:path";
import type { Block, BlockContext } from "../blockwise/types.ts";
import { invalidData } from "../core/errors.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import { asIdArray } from "./measure-task.ts";
import {
  boxMeets,
  globalIndices,
  readObjectMask,
  readSparse,
  scatterSparse,
  writeSparse,
} from "./object-voxels.ts";
import { cropBox, type SplitParams, splitObject } from "./split.ts";

/*
 * Block functions of `organelle refine --split` (see split.ts for the algorithm):
 *
 *   analyze.splitBoxes    one block of the instance array: the voxel bounding box of every id in it
 *                         (flat: id, begin z,y,x, end z,y,x); the caller merges them.
 *   analyze.splitObjects  objects k..k+n of a virtual 1 x 1 x N grid (parallel and resumable like
 *                         analyze.skeletonObjects): each object read whole from its box plus one voxel
 *                         and split; the voxels of pieces 2..k go to `<id>.idx` (float64 flat indices
 *                         in the array) and `<id>.val` (uint32 piece numbers) in `dir`.
 *                         Value: id, pieces, fragments per object.
 *   analyze.splitWrite    one chunk-aligned block of the instance array, rewritten in place: voxels of
 *                         pieces 2..k get their new ids. Writing the same values again is harmless, so
 *                         a resumed run may redo a block.
 */

export interface SplitBoxesParams {
  readonly input: ArrayRef;
}

export interface SplitObjectsParams {
  readonly input: ArrayRef;
  /** Smoothed prediction on the same grid, for prediction seeds; values divided by `scale`. */
  readonly prediction?: ArrayRef;
  readonly scale: number;
  readonly split: SplitParams;
  readonly ids: Float64Array;
  /** Voxel boxes: begin z, y, x, end z, y, x (exclusive) per object. */
  readonly boxes: Float64Array;
  readonly dir: string;
}

export interface SplitWriteParams {
  readonly output: ArrayRef;
  /** The objects that split, their boxes and the new id of their piece 2. */
  readonly ids: Float64Array;
  readonly boxes: Float64Array;
  readonly bases: Float64Array;
  readonly dir: string;
}

export async function splitBoxesBlock(
  block: Block,
  p: SplitBoxesParams,
  ctx: BlockContext,
): Promise<number[]> {
  const vol = await Volume.open(p.input.datasetPath, p.input.arrayPath, { allowIncomplete: true });
  const box = vol.boxOf(block.writeRoi);
  const data = asIdArray(await vol.readBox(box, { signal: ctx.signal }), vol.describe());
  const [nz, ny, nx] = box.shape;
  const [bz, by, bx] = box.begin;
  const boxes = new Map<number, number[]>();
  let last = 0;
  let b: number[] | undefined;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const v = data[(z * ny + y) * nx + x]!;
        if (v === 0) continue;
        if (v !== last || !b) {
          last = v;
          b = boxes.get(v);
          if (!b) {
            b = [bz + z, by + y, bx + x, bz + z + 1, by + y + 1, bx + x + 1];
            boxes.set(v, b);
            continue;
          }
        }
        b[0] = Math.min(b[0]!, bz + z);
        b[1] = Math.min(b[1]!, by + y);
        b[2] = Math.min(b[2]!, bx + x);
        b[3] = Math.max(b[3]!, bz + z + 1);
        b[4] = Math.max(b[4]!, by + y + 1);
        b[5] = Math.max(b[5]!, bx + x + 1);
      }
  const out: number[] = [];
  for (const [id, bb] of boxes) out.push(id, ...bb);
  return out;
}

const WHAT = "split pieces";

export async function splitObjectsBlock(
  block: Block,
  p: SplitObjectsParams,
  ctx: BlockContext,
): Promise<number[]> {
  const vol = await Volume.open(p.input.datasetPath, p.input.arrayPath, { allowIncomplete: true });
  const pred = p.prediction
    ? await Volume.open(p.prediction.datasetPath, p.prediction.arrayPath, { allowIncomplete: true })
    : undefined;
  const full = vol.meta.shape;
  const first = block.writeRoi.offset[2];
  const last = first + block.writeRoi.shape[2];
  const out: number[] = [];
  for (let k = first; k < last; k++) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const id = p.ids[k]!;
    const { begin, shape } = cropBox(Array.from(p.boxes.subarray(6 * k, 6 * k + 6)));
    const mask = await readObjectMask(vol, id, begin, shape, ctx.signal);
    let prediction: Float32Array | undefined;
    if (pred) {
      const raw = await pred.readBox({ begin, shape }, { signal: ctx.signal });
      if (raw instanceof BigUint64Array) throw invalidData(`${pred.describe()}: expected a prediction`);
      prediction = new Float32Array(raw.length);
      for (let i = 0; i < raw.length; i++) prediction[i] = raw[i]! / p.scale;
    }
    const r = splitObject(mask, shape, vol.meta.voxelSize, p.split, prediction);
    out.push(id, r.count, r.fragments);
    if (r.count < 2) continue;
    let n = 0;
    for (let i = 0; i < r.pieces.length; i++) if (r.pieces[i]! >= 2) n++;
    const local = new Int32Array(n);
    const val = new Uint32Array(n);
    n = 0;
    for (let i = 0; i < r.pieces.length; i++) {
      const piece = r.pieces[i]!;
      if (piece < 2) continue;
      local[n] = i;
      val[n++] = piece;
    }
    await writeSparse(path.join(p.dir, `${id}.idx`), globalIndices(local, begin, shape, full), WHAT);
    await writeSparse(path.join(p.dir, `${id}.val`), val, WHAT);
  }
  return out;
}

export async function splitWriteBlock(block: Block, p: SplitWriteParams, ctx: BlockContext): Promise<void> {
  const dst = await Volume.open(p.output.datasetPath, p.output.arrayPath, { allowIncomplete: true });
  const box = dst.boxOf(block.writeRoi);
  let data: Uint32Array | undefined;
  for (let k = 0; k < p.ids.length; k++) {
    if (!boxMeets(p.boxes, k, box.begin, box.shape)) continue;
    if (!data) {
      const raw = await dst.readBox(box, { signal: ctx.signal });
      if (!(raw instanceof Uint32Array)) throw invalidData(`${dst.describe()}: expected uint32 ids`);
      data = raw;
    }
    const id = p.ids[k]!;
    const idx = new Float64Array(await readSparse(path.join(p.dir, `${id}.idx`), WHAT));
    const val = new Uint32Array(await readSparse(path.join(p.dir, `${id}.val`), WHAT));
    scatterSparse(data, box.begin, box.shape, dst.meta.shape, idx, val, p.bases[k]! - 2);
  }
  if (data) await dst.writeBox(box, data, { signal: ctx.signal });
}
