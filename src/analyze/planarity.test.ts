import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { symmetricEigenvalues3 } from "./hessian.ts";
import { PLANAR_THRESHOLD, planarityAt, planarityMargin, sheetness } from "./planarity.ts";
import { skeletonize3d } from "./skeletonize.ts";

/** Medial surface and planarity there of a mask built from a predicate on voxel centres (nm). */
function medialPlanarity(
  vs: Coordinate,
  extent: Coordinate,
  inside: (z: number, y: number, x: number) => boolean,
) {
  const m = planarityMargin([10, 15, 20, 30, 40], vs);
  const shape = coord(
    Math.ceil(extent[0] / vs[0]) + 2 * m[0],
    Math.ceil(extent[1] / vs[1]) + 2 * m[1],
    Math.ceil(extent[2] / vs[2]) + 2 * m[2],
  );
  const mask = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++) {
        const p = [(z - m[0] + 0.5) * vs[0], (y - m[1] + 0.5) * vs[1], (x - m[2] + 0.5) * vs[2]] as const;
        if (inside(p[0], p[1], p[2])) mask[(z * shape[1] + y) * shape[2] + x] = 1;
      }
  const medial = skeletonize3d(mask, shape, { mode: "surface" });
  const points: number[] = [];
  for (let i = 0; i < medial.length; i++) if (medial[i]) points.push(i);
  const p = planarityAt(mask, shape, vs, Int32Array.from(points));
  const mean = p.reduce((s, v) => s + v, 0) / p.length;
  const planar = p.filter((v) => v >= PLANAR_THRESHOLD).length / p.length;
  return { mean, planar, n: p.length };
}

describe("ER planarity from Hessian eigenvalues at the medial surface", () => {
  it("eigenvalues of a symmetric 3x3 matrix, sorted by magnitude", () => {
    const ev = new Float64Array(3);
    symmetricEigenvalues3(2, 2, 3, 1, 0, 0, ev); // blocks [[2,1],[1,2]] (1 and 3) and [3]
    // a double eigenvalue: the closed form's acos loses half the digits there
    expect(ev[0]).toBeCloseTo(1, 12);
    expect(ev[1]).toBeCloseTo(3, 6);
    expect(ev[2]).toBeCloseTo(3, 6);
    symmetricEigenvalues3(-5, 0.5, 0, 0, 0, 0, ev);
    expect(Array.from(ev)).toEqual([0, 0.5, -5]);
    // a rotated diag(-4, 1, -0.25): trace and magnitudes survive
    symmetricEigenvalues3(-1.5, -1.5, -0.25, 2.5, 0, 0, ev);
    expect(ev[0]).toBeCloseTo(-0.25, 12);
    expect(ev[1]).toBeCloseTo(1, 12);
    expect(ev[2]).toBeCloseTo(-4, 12);
  });

  it("sheetness: a sheet scores ~1, a tube ~0.12, a blob 0, a dark structure 0", () => {
    expect(sheetness(0, 0, -1)).toBeGreaterThan(0.99);
    expect(sheetness(0, -1, -1)).toBeCloseTo(Math.exp(-2) * (1 - Math.exp(-2)), 12);
    expect(sheetness(-1, -1, -1)).toBe(0);
    expect(sheetness(0, 0, 1)).toBe(0);
  });

  it("a 40 nm sheet is planar (> 0.6), a 50 nm tube is not (< 0.6), at 8 x 5 x 5 nm", () => {
    const vs = coord(8, 5, 5);
    // sheet 40 nm thick along z, 240 x 240 nm; tube 50 nm across along x, 300 nm long
    const inBox = (v: number, e: number) => v >= 0 && v < e;
    const sheet = medialPlanarity(
      vs,
      coord(40, 240, 240),
      (z, y, x) => inBox(z, 40) && inBox(y, 240) && inBox(x, 240),
    );
    const tube = medialPlanarity(
      vs,
      coord(50, 50, 300),
      (z, y, x) => (z - 25) ** 2 + (y - 25) ** 2 <= 25 * 25 && inBox(x, 300),
    );
    expect(sheet.n).toBeGreaterThan(1000);
    expect(tube.n).toBeGreaterThan(40);
    expect(sheet.mean).toBeGreaterThan(PLANAR_THRESHOLD);
    expect(sheet.planar).toBeGreaterThan(0.75);
    expect(tube.mean).toBeLessThan(PLANAR_THRESHOLD);
    expect(tube.planar).toBeLessThan(0.25);
  });
});
