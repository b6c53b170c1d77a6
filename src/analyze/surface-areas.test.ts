import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { accumulateSurfaceAreas, caseAreas, type IdArray } from "./marching-cubes.ts";
import { surfaceAreas } from "./surface-areas.ts";

/**
 * Blobs that touch: each voxel within a blob's radius takes the id of the nearest centre, so
 * neighbouring blobs share faces, plus a lone blob and a single-voxel speck.
 */
function touchingBlobs<T extends IdArray>(
  make: new (n: number) => T,
  shape: Coordinate,
  ids: readonly number[],
): T {
  const [nz, ny, nx] = shape;
  const centres = [
    [10, 10, 9, 7],
    [10, 12, 20, 6],
    [16, 18, 14, 6.5],
    [9, 22, 30, 5],
    [22, 8, 30, 4.5],
  ] as const;
  const out = new make(nz * ny * nx);
  let i = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        let best = -1;
        let bestD = Number.POSITIVE_INFINITY;
        centres.forEach(([cz, cy, cx, r], k) => {
          const d = Math.hypot((z - cz) / r, (y - cy) / r, (x - cx) / r);
          if (d <= 1 && d < bestD) {
            best = k;
            bestD = d;
          }
        });
        if (best >= 0) out[i] = ids[best]!;
      }
  out[(3 * ny + 26) * nx + 4] = ids[0]!;
  return out;
}

function touchingPairs(data: IdArray, shape: Coordinate): number {
  const [, ny, nx] = shape;
  let pairs = 0;
  for (let i = 0; i + nx * ny < data.length; i++) {
    const v = data[i]!;
    if (v === 0) continue;
    for (const step of [1, nx, nx * ny]) {
      const w = data[i + step]!;
      if (w !== 0 && w !== v) pairs++;
    }
  }
  return pairs;
}

function sorted(m: Map<number, number>): [number, number][] {
  return [...m].sort((a, b) => a[0] - b[0]);
}

describe("surfaceAreas", () => {
  const shape = coord(28, 30, 40);
  const voxel = coord(8, 6, 5);
  const all = { begin: coord(1, 1, 1), end: coord(shape[0] - 2, shape[1] - 2, shape[2] - 2) };

  it("box sums where one id is near equal the per-id recount, to the bit, on touching objects", () => {
    const data = touchingBlobs(Uint32Array, shape, [3, 7, 11, 0xffffffff, 5]);
    expect(touchingPairs(data, shape)).toBeGreaterThan(50);
    const fast = surfaceAreas(data, shape, all, voxel);
    const exact = surfaceAreas(data, shape, all, voxel, { perIdOnly: true });
    expect(sorted(fast.smoothed)).toEqual(sorted(exact.smoothed));
    expect(sorted(fast.binary)).toEqual(sorted(exact.binary));
    expect([...fast.smoothed.keys()].sort((a, b) => a - b)).toEqual([3, 5, 7, 11, 0xffffffff]);
    for (const a of fast.smoothed.values()) expect(a).toBeGreaterThan(0);
    // The binary areas are the table sums of marching-cubes.ts.
    const reference = new Map<number, number>();
    accumulateSurfaceAreas(data, shape, all, caseAreas(voxel), reference);
    expect(sorted(fast.binary)).toEqual(sorted(reference));
  });

  it("agrees on sub-ranges of cells (as blocks use them) and on int32 and uint8 ids", () => {
    const ranges = [
      { begin: coord(5, 3, 9), end: coord(17, 25, 30) },
      { begin: coord(1, 10, 1), end: coord(26, 11, 38) },
    ];
    const arrays: IdArray[] = [
      touchingBlobs(Int32Array, shape, [-4, 9, -1, 2, 2147483647]),
      touchingBlobs(Uint8Array, shape, [1, 2, 3, 4, 255]),
    ];
    for (const data of arrays) {
      for (const cells of [all, ...ranges]) {
        const fast = surfaceAreas(data, shape, cells, voxel);
        const exact = surfaceAreas(data, shape, cells, voxel, { perIdOnly: true });
        expect(sorted(fast.smoothed)).toEqual(sorted(exact.smoothed));
        expect(sorted(fast.binary)).toEqual(sorted(exact.binary));
        const reference = new Map<number, number>();
        accumulateSurfaceAreas(data, shape, cells, caseAreas(voxel), reference);
        expect(sorted(fast.binary)).toEqual(sorted(reference));
      }
    }
    expect([...surfaceAreas(arrays[0]!, shape, all, voxel).smoothed.keys()].sort((a, b) => a - b)).toEqual([
      -4, -1, 2, 9, 2147483647,
    ]);
  });

  it("refuses cell ranges without their neighbourhood inside the data", () => {
    const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
    expect(() => surfaceAreas(data, shape, { begin: coord(0, 1, 1), end: coord(5, 5, 5) }, voxel)).toThrow(
      /1 voxel below and 2 above/,
    );
    expect(() =>
      surfaceAreas(data, shape, { begin: coord(1, 1, 1), end: coord(shape[0] - 1, 5, 5) }, voxel),
    ).toThrow(/axis 0/);
  });
});
