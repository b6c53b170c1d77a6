import * as fs from "node:fs";
import * as path from "node:path";
import type { Block, BlockContext } from "../blockwise/types.ts";
import { fromFsError, invalidData } from "../core/errors.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import { asIdArray } from "./measure-task.ts";
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

const bytes = (a: Float64Array | Uint32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function writeSparse(file: string, data: Float64Array | Uint32Array) {
  try {
    await fs.promises.writeFile(file, bytes(data));
  } catch (e) {
    throw fromFsError(e, file, "writing split pieces");
  }
}

async function readSparse(file: string): Promise<ArrayBuffer> {
  try {
    const b = await fs.promises.readFile(file);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  } catch (e) {
    throw fromFsError(e, file, "reading split pieces");
  }
}

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
    const data = asIdArray(await vol.readBox({ begin, shape }, { signal: ctx.signal }), vol.describe());
    const mask = new Uint8Array(data.length);
    let voxels = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] === id) {
        mask[i] = 1;
        voxels++;
      }
    }
    if (voxels === 0) throw invalidData(`${vol.describe()}: id ${id} has no voxels in its bounding box`);
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
    const idx = new Float64Array(n);
    const val = new Uint32Array(n);
    n = 0;
    const plane = shape[1] * shape[2];
    for (let i = 0; i < r.pieces.length; i++) {
      const piece = r.pieces[i]!;
      if (piece < 2) continue;
      const z = begin[0] + Math.trunc(i / plane);
      const y = begin[1] + Math.trunc((i % plane) / shape[2]);
      const x = begin[2] + (i % shape[2]);
      idx[n] = (z * full[1] + y) * full[2] + x;
      val[n++] = piece;
    }
    await writeSparse(path.join(p.dir, `${id}.idx`), idx);
    await writeSparse(path.join(p.dir, `${id}.val`), val);
  }
  return out;
}

export async function splitWriteBlock(block: Block, p: SplitWriteParams, ctx: BlockContext): Promise<void> {
  const dst = await Volume.open(p.output.datasetPath, p.output.arrayPath, { allowIncomplete: true });
  const box = dst.boxOf(block.writeRoi);
  const [bz, by, bx] = box.begin;
  const [nz, ny, nx] = box.shape;
  const full = dst.meta.shape;
  const plane = full[1] * full[2];
  let data: Uint32Array | undefined;
  for (let k = 0; k < p.ids.length; k++) {
    const b = (d: number) => p.boxes[6 * k + d]!;
    if (b(0) >= bz + nz || b(3) <= bz || b(1) >= by + ny || b(4) <= by || b(2) >= bx + nx || b(5) <= bx)
      continue;
    if (!data) {
      const raw = await dst.readBox(box, { signal: ctx.signal });
      if (!(raw instanceof Uint32Array)) throw invalidData(`${dst.describe()}: expected uint32 ids`);
      data = raw;
    }
    const id = p.ids[k]!;
    const idx = new Float64Array(await readSparse(path.join(p.dir, `${id}.idx`)));
    const val = new Uint32Array(await readSparse(path.join(p.dir, `${id}.val`)));
    const base = p.bases[k]! - 2;
    for (let j = 0; j < idx.length; j++) {
      const g = idx[j]!;
      const z = Math.floor(g / plane) - bz;
      const r = g % plane;
      const y = Math.floor(r / full[2]) - by;
      const x = (r % full[2]) - bx;
      if (z < 0 || z >= nz || y < 0 || y >= ny || x < 0 || x >= nx) continue;
      data[(z * ny + y) * nx + x] = base + val[j]!;
    }
  }
  if (data) await dst.writeBox(box, data, { signal: ctx.signal });
}
