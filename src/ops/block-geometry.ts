import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";

/**
 * Where a block's arrays sit in the whole volume, in voxel indices (z,y,x). Filters that look at
 * neighbours need to know where the real volume border is: there they extend the data the way the
 * reference implementation does (reflection), while everywhere else they must use real voxels from
 * the block's context. `read` may reach outside the volume (a block runner fills that with zeros);
 * those voxels are never used. `write` must lie inside the volume and inside `read`.
 */
export interface BlockGeometry {
  readonly volumeShape: Coordinate;
  readonly read: VoxelBox;
  readonly write: VoxelBox;
}

/** The geometry of processing a whole volume in one piece. */
export function wholeVolume(shape: Coordinate): BlockGeometry {
  const box = { begin: coord(0, 0, 0), shape };
  return { volumeShape: shape, read: box, write: box };
}

export function boxEnd(box: VoxelBox): Coordinate {
  return coord(box.begin[0] + box.shape[0], box.begin[1] + box.shape[1], box.begin[2] + box.shape[2]);
}

export function formatBox(box: VoxelBox): string {
  return `[${format(box.begin)}..${format(boxEnd(box))})`;
}

/** Number of elements of a shape; 0 for empty shapes. */
export function voxelCount(shape: Coordinate): number {
  return shape[0] * shape[1] * shape[2];
}

/** Checks that a flat array holds exactly `shape` voxels; `what` names it in the error. */
export function checkLength(length: number, shape: Coordinate, what: string): void {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0)
      throw invalidArgument(`${what}: shape ${format(shape)} must be integers >= 0`);
  }
  if (length !== voxelCount(shape)) {
    throw invalidArgument(
      `${what}: array has ${length} elements but shape ${format(shape)} needs ${voxelCount(shape)}`,
    );
  }
}

/**
 * Validates a block geometry against its input array: integer boxes, `write` inside the volume
 * and inside `read`, and an input of exactly `read.shape` voxels.
 */
export function checkGeometry(g: BlockGeometry, inputLength: number, what: string): void {
  checkLength(inputLength, g.read.shape, `${what} input`);
  for (let a = 0; a < 3; a++) {
    const n = g.volumeShape[a]!;
    const w0 = g.write.begin[a]!;
    const w1 = w0 + g.write.shape[a]!;
    const r0 = g.read.begin[a]!;
    const r1 = r0 + g.read.shape[a]!;
    if (!Number.isInteger(n) || n < 1) {
      throw invalidArgument(`${what}: volume shape ${format(g.volumeShape)} must be integers >= 1`);
    }
    if (![w0, w1, r0, r1].every(Number.isInteger) || g.write.shape[a]! < 0) {
      throw invalidArgument(`${what}: block boxes must be integer voxel boxes`);
    }
    if (w0 < 0 || w1 > n) {
      throw invalidArgument(
        `${what}: write box ${formatBox(g.write)} reaches outside the volume ${format(g.volumeShape)}`,
      );
    }
    if (w0 < r0 || w1 > r1) {
      throw invalidArgument(
        `${what}: write box ${formatBox(g.write)} is not inside read box ${formatBox(g.read)}`,
      );
    }
  }
}

/**
 * Checks that the read box covers `needed` (a box inside the volume); the error says how much
 * context the block lacks so the caller can grow it.
 */
export function checkCovers(g: BlockGeometry, needed: VoxelBox, what: string): void {
  for (let a = 0; a < 3; a++) {
    const r0 = g.read.begin[a]!;
    const r1 = r0 + g.read.shape[a]!;
    const n0 = needed.begin[a]!;
    const n1 = n0 + needed.shape[a]!;
    if (n0 < r0 || n1 > r1) {
      throw invalidArgument(
        `${what}: read box ${formatBox(g.read)} lacks context; writing ${formatBox(g.write)} needs voxels ${formatBox(needed)}`,
      );
    }
  }
}
