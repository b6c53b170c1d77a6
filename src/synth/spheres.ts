import type { Vec3 } from "./geometry.ts";

/**
 * Bounding spheres of placed organelles on a uniform grid, for rejection sampling during the layout:
 * a candidate organelle (given as spheres covering it) is rejected when any of its spheres comes closer
 * than `gap` to a sphere of another organelle.
 */
export class SphereSet {
  private readonly cell: number;
  private readonly grid = new Map<string, number[]>();
  private readonly data: number[] = []; // z, y, x, r, owner per sphere

  constructor(cellSize = 250) {
    this.cell = cellSize;
  }

  get count(): number {
    return this.data.length / 5;
  }

  /** True if no sphere of another owner lies within `gap` of any of `spheres`. */
  fits(spheres: readonly number[], owner: number, gap: number): boolean {
    for (let i = 0; i < spheres.length; i += 4) {
      const z = spheres[i]!;
      const y = spheres[i + 1]!;
      const x = spheres[i + 2]!;
      const r = spheres[i + 3]!;
      const reach = r + gap;
      const lo = this.cellOf(z - reach, y - reach, x - reach);
      const hi = this.cellOf(z + reach, y + reach, x + reach);
      for (let cz = lo[0]; cz <= hi[0]; cz++) {
        for (let cy = lo[1]; cy <= hi[1]; cy++) {
          for (let cx = lo[2]; cx <= hi[2]; cx++) {
            const list = this.grid.get(`${cz},${cy},${cx}`);
            if (!list) continue;
            for (const j of list) {
              const o = j * 5;
              if (this.data[o + 4] === owner) continue;
              const dz = this.data[o]! - z;
              const dy = this.data[o + 1]! - y;
              const dx = this.data[o + 2]! - x;
              const limit = this.data[o + 3]! + reach;
              if (dz * dz + dy * dy + dx * dx < limit * limit) return false;
            }
          }
        }
      }
    }
    return true;
  }

  add(spheres: readonly number[], owner: number): void {
    for (let i = 0; i < spheres.length; i += 4) {
      const z = spheres[i]!;
      const y = spheres[i + 1]!;
      const x = spheres[i + 2]!;
      const r = spheres[i + 3]!;
      const index = this.data.length / 5;
      this.data.push(z, y, x, r, owner);
      const lo = this.cellOf(z - r, y - r, x - r);
      const hi = this.cellOf(z + r, y + r, x + r);
      for (let cz = lo[0]; cz <= hi[0]; cz++) {
        for (let cy = lo[1]; cy <= hi[1]; cy++) {
          for (let cx = lo[2]; cx <= hi[2]; cx++) {
            const key = `${cz},${cy},${cx}`;
            const list = this.grid.get(key);
            if (list) list.push(index);
            else this.grid.set(key, [index]);
          }
        }
      }
    }
  }

  private cellOf(z: number, y: number, x: number): Vec3 {
    return [Math.floor(z / this.cell), Math.floor(y / this.cell), Math.floor(x / this.cell)];
  }
}

/** Spheres covering a tube of radius `r` along a polyline: spaced r/2 apart, each of radius r*sqrt(17)/4. */
export function tubeSpheres(points: readonly Vec3[], r: number, out: number[] = []): number[] {
  const step = r / 2;
  const rs = Math.sqrt(r * r + (step / 2) * (step / 2));
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    const n = Math.max(1, Math.ceil(len / step));
    for (let k = i === 0 ? 0 : 1; k <= n; k++) {
      const t = k / n;
      out.push(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t, rs);
    }
  }
  if (points.length === 1) out.push(points[0]![0], points[0]![1], points[0]![2], r);
  return out;
}
