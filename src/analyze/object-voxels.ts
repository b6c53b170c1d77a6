import * as fs from "node:fs";
import type { Coordinate } from "../core/coordinate.ts";
import { fromFsError, invalidData } from "../core/errors.ts";
import type { Volume } from "../store/volume.ts";
import { asIdArray } from "./measure-task.ts";

/*
 * Per-object work of the object-wise verbs (skeleton, refine --split): each object is read whole from
 * its voxel box, and its output voxels go to a sparse file pair (`<id>.idx`: float64 flat indices in
 * the array, `<id>.val`: values) that a later chunk-aligned phase scatters into the output array.
 */

/** The voxels of `id` in the crop `begin`/`shape` of `vol` as a 0/1 mask; `hint` follows the error when it has none. */
export async function readObjectMask(
  vol: Volume,
  id: number,
  begin: Coordinate,
  shape: Coordinate,
  signal: AbortSignal,
  hint = "",
): Promise<Uint8Array> {
  const data = asIdArray(await vol.readBox({ begin, shape }, { signal }), vol.describe());
  const mask = new Uint8Array(data.length);
  let voxels = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === id) {
      mask[i] = 1;
      voxels++;
    }
  }
  if (voxels === 0) throw invalidData(`${vol.describe()}: id ${id} has no voxels in its bounding box${hint}`);
  return mask;
}

/** Flat indices in an array of shape `full` of the crop-local flat indices `local` (crop at `begin`, of `shape`). */
export function globalIndices(
  local: Int32Array,
  begin: Coordinate,
  shape: Coordinate,
  full: Coordinate,
): Float64Array {
  const g = new Float64Array(local.length);
  const plane = shape[1] * shape[2];
  for (let j = 0; j < local.length; j++) {
    const i = local[j]!;
    const z = begin[0] + Math.trunc(i / plane);
    const y = begin[1] + Math.trunc((i % plane) / shape[2]);
    const x = begin[2] + (i % shape[2]);
    g[j] = (z * full[1] + y) * full[2] + x;
  }
  return g;
}

/** Whether object k's box in `boxes` (begin z,y,x, end z,y,x per object) meets the block at `begin` of `shape`. */
export function boxMeets(boxes: Float64Array, k: number, begin: Coordinate, shape: Coordinate): boolean {
  const b = (d: number) => boxes[6 * k + d]!;
  return !(
    b(0) >= begin[0] + shape[0] ||
    b(3) <= begin[0] ||
    b(1) >= begin[1] + shape[1] ||
    b(4) <= begin[1] ||
    b(2) >= begin[2] + shape[2] ||
    b(5) <= begin[2]
  );
}

/** Writes `add + val[j]` at the flat indices `idx` (of an array of shape `full`) that fall in the block `data` at `begin`/`shape`. */
export function scatterSparse(
  data: Uint8Array | Uint32Array,
  begin: Coordinate,
  shape: Coordinate,
  full: Coordinate,
  idx: Float64Array,
  val: Uint8Array | Uint32Array,
  add = 0,
): void {
  const [bz, by, bx] = begin;
  const [nz, ny, nx] = shape;
  const plane = full[1] * full[2];
  for (let j = 0; j < idx.length; j++) {
    const g = idx[j]!;
    const z = Math.floor(g / plane) - bz;
    const r = g % plane;
    const y = Math.floor(r / full[2]) - by;
    const x = (r % full[2]) - bx;
    if (z < 0 || z >= nz || y < 0 || y >= ny || x < 0 || x >= nx) continue;
    data[(z * ny + y) * nx + x] = add + val[j]!;
  }
}

/** Writes one file of a sparse pair; `what` names the data in the error. */
export async function writeSparse(file: string, data: Float64Array | Uint8Array | Uint32Array, what: string) {
  try {
    await fs.promises.writeFile(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch (e) {
    throw fromFsError(e, file, `writing ${what}`);
  }
}

/** Reads one file of a sparse pair; `what` names the data in the error. */
export async function readSparse(file: string, what: string): Promise<ArrayBuffer> {
  try {
    const b = await fs.promises.readFile(file);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  } catch (e) {
    throw fromFsError(e, file, `reading ${what}`);
  }
}
