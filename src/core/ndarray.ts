import type { Coordinate } from "./coordinate.ts";

/** Anything indexable like a flat typed array; lets 3D helpers serve every element type. */
export interface FlatArray {
  length: number;
  [i: number]: number | bigint;
  set(array: ArrayLike<number | bigint>, offset?: number): void;
  subarray(begin: number, end?: number): FlatArray;
}

/**
 * Copies a box of `size` voxels from `src` (C-order, shape `srcShape`) starting at `srcBegin`
 * into `dst` (shape `dstShape`) at `dstBegin`. Rows are copied with `set` on subarrays, which is
 * a memcpy for same-typed arrays.
 */
export function copyBox3d(
  src: FlatArray,
  srcShape: Coordinate,
  srcBegin: Coordinate,
  dst: FlatArray,
  dstShape: Coordinate,
  dstBegin: Coordinate,
  size: Coordinate,
): void {
  const [sz, sy, sx] = size;
  if (sz <= 0 || sy <= 0 || sx <= 0) return;
  const srcPlane = srcShape[1] * srcShape[2];
  const dstPlane = dstShape[1] * dstShape[2];
  const fullRows = sx === srcShape[2] && sx === dstShape[2];
  for (let z = 0; z < sz; z++) {
    const s0 = (srcBegin[0] + z) * srcPlane + srcBegin[1] * srcShape[2] + srcBegin[2];
    const d0 = (dstBegin[0] + z) * dstPlane + dstBegin[1] * dstShape[2] + dstBegin[2];
    if (fullRows) {
      dst.set(src.subarray(s0, s0 + sy * sx) as ArrayLike<number>, d0);
      continue;
    }
    for (let y = 0; y < sy; y++) {
      const s = s0 + y * srcShape[2];
      dst.set(src.subarray(s, s + sx) as ArrayLike<number>, d0 + y * dstShape[2]);
    }
  }
}
