import type { Coordinate } from "../../src/core/coordinate.ts";

/** Voxels (centres) within `radius` nm of a polyline given in nm (z,y,x points). */
export function tube(shape: Coordinate, vs: Coordinate, points: number[][], radius: number): Uint8Array {
  const [nz, ny, nx] = shape;
  const out = new Uint8Array(nz * ny * nx);
  const r2 = radius * radius;
  for (let k = 0; k + 1 < points.length; k++) {
    const a = points[k]!;
    const b = points[k + 1]!;
    const ab = [0, 1, 2].map((d) => b[d]! - a[d]!);
    const l2 = ab[0]! ** 2 + ab[1]! ** 2 + ab[2]! ** 2;
    const lo = [0, 1, 2].map((d) => Math.max(0, Math.floor((Math.min(a[d]!, b[d]!) - radius) / vs[d]!) - 1));
    const hi = [0, 1, 2].map((d) =>
      Math.min(shape[d]!, Math.ceil((Math.max(a[d]!, b[d]!) + radius) / vs[d]!) + 1),
    );
    for (let z = lo[0]!; z < hi[0]!; z++)
      for (let y = lo[1]!; y < hi[1]!; y++)
        for (let x = lo[2]!; x < hi[2]!; x++) {
          const ap = [(z + 0.5) * vs[0] - a[0]!, (y + 0.5) * vs[1] - a[1]!, (x + 0.5) * vs[2] - a[2]!];
          const t = Math.max(0, Math.min(1, (ap[0]! * ab[0]! + ap[1]! * ab[1]! + ap[2]! * ab[2]!) / l2));
          const d2 = (ap[0]! - t * ab[0]!) ** 2 + (ap[1]! - t * ab[1]!) ** 2 + (ap[2]! - t * ab[2]!) ** 2;
          if (d2 <= r2) out[(z * ny + y) * nx + x] = 1;
        }
  }
  return out;
}
