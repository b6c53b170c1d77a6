import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { VoxelBox } from "../core/roi.ts";
import { validateVoxelSize } from "../core/voxel-size.ts";

/**
 * Shared conventions of the exact volume algorithms: a volume is a flat typed array in C order
 * (z slowest, x fastest) plus its shape in voxels (z,y,x); masks are Uint8Array with non-zero =
 * foreground; voxel sizes and radii are in nm.
 */

/** Connectivity of voxels in 3D: faces (6), faces+edges (18), faces+edges+corners (26). */
export type Connectivity = 6 | 18 | 26;

/** Label images the algorithms accept (ids are non-negative integers, 0 = background). */
export type LabelArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/** Checks a shape of whole positive voxel counts and that `data` holds exactly that many voxels. */
export function checkVolume(data: { length: number }, shape: Coordinate, what: string): number {
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw invalidArgument(`${what}: shape must be three voxel counts z,y,x`);
  }
  for (const n of shape) {
    if (!Number.isInteger(n) || n < 1) {
      throw invalidArgument(`${what}: shape ${format(shape)} must be three positive whole voxel counts`);
    }
  }
  const n = shape[0] * shape[1] * shape[2];
  if (data.length !== n) {
    throw invalidArgument(
      `${what}: array has ${data.length} elements but shape ${format(shape)} needs ${n} (C order z,y,x)`,
    );
  }
  return n;
}

export function checkConnectivity(c: unknown, what: string): Connectivity {
  if (c === 6 || c === 18 || c === 26) return c;
  throw invalidArgument(`${what}: connectivity must be 6, 18 or 26, got ${String(c)}`);
}

/** Voxel size in nm, (1,1,1) when not given (then distances are in voxels). */
export function voxelSizeOrUnit(voxelSize: Coordinate | undefined, what: string): Coordinate {
  return voxelSize === undefined ? coord(1, 1, 1) : validateVoxelSize(voxelSize, `${what}: voxel size`);
}

/** Rejects an `out` buffer of the wrong length so a caller's reused buffer cannot be half-written. */
export function outOrNew<T extends { length: number }>(
  out: T | undefined,
  n: number,
  make: (n: number) => T,
  what: string,
): T {
  if (out === undefined) return make(n);
  if (out.length !== n) throw invalidArgument(`${what}: out has ${out.length} elements, expected ${n}`);
  return out;
}

/** Grows an Int32Array to at least `needed` elements, keeping its contents (amortised doubling). */
export function growInt32(a: Int32Array, needed: number): Int32Array {
  if (needed <= a.length) return a;
  const b = new Int32Array(Math.max(needed, a.length * 2));
  b.set(a);
  return b;
}

/** Box (in voxels) shared by two boxes; shape 0 along an axis where they do not overlap. */
export function intersectBoxes(a: VoxelBox, b: VoxelBox): VoxelBox {
  const begin = [0, 0, 0];
  const shape = [0, 0, 0];
  for (let d = 0; d < 3; d++) {
    const lo = Math.max(a.begin[d]!, b.begin[d]!);
    const hi = Math.min(a.begin[d]! + a.shape[d]!, b.begin[d]! + b.shape[d]!);
    begin[d] = lo;
    shape[d] = Math.max(0, hi - lo);
  }
  return { begin: coord(begin[0]!, begin[1]!, begin[2]!), shape: coord(shape[0]!, shape[1]!, shape[2]!) };
}

/**
 * Copies `box` (in the same frame as `srcBox`) out of the array `src` that covers `srcBox`. Returns
 * `src` itself when the boxes coincide.
 */
export function cropBox<T extends Uint8Array | Uint32Array | Float64Array>(
  src: T,
  srcBox: VoxelBox,
  box: VoxelBox,
  make: (n: number) => T,
): T {
  const same = [0, 1, 2].every((d) => srcBox.begin[d] === box.begin[d] && srcBox.shape[d] === box.shape[d]);
  if (same) return src;
  const dst = make(box.shape[0] * box.shape[1] * box.shape[2]);
  copyBox3d(
    src,
    srcBox.shape,
    coord(box.begin[0] - srcBox.begin[0], box.begin[1] - srcBox.begin[1], box.begin[2] - srcBox.begin[2]),
    dst,
    box.shape,
    coord(0, 0, 0),
    box.shape,
  );
  return dst;
}
