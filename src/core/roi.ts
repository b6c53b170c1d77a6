import {
  add,
  type Coordinate,
  coord,
  div,
  equals,
  format,
  max,
  min,
  mul,
  product,
  sub,
  uniform,
} from "./coordinate.ts";
import { invalidArgument } from "./errors.ts";

/** A box of voxel indices (integers): begin and shape, z,y,x. */
export interface VoxelBox {
  readonly begin: Coordinate;
  readonly shape: Coordinate;
}

export type SnapMode = "grow" | "shrink" | "closest";

/**
 * An immutable axis-aligned box in world units (nm): offset (inclusive) and shape, z,y,x.
 * Every operation returns a new Roi; an empty Roi has a zero extent along at least one axis.
 */
export class Roi {
  readonly offset: Coordinate;
  readonly shape: Coordinate;

  constructor(offset: Coordinate, shape: Coordinate) {
    for (const s of shape) {
      if (!(s >= 0) || !Number.isFinite(s))
        throw invalidArgument(`ROI shape ${format(shape)} must be finite and >= 0`);
    }
    for (const o of offset) {
      if (!Number.isFinite(o)) throw invalidArgument(`ROI offset ${format(offset)} must be finite`);
    }
    this.offset = coord(offset[0], offset[1], offset[2]);
    this.shape = coord(shape[0], shape[1], shape[2]);
    Object.freeze(this);
  }

  static fromBeginEnd(begin: Coordinate, end: Coordinate): Roi {
    return new Roi(begin, max(sub(end, begin), uniform(0)));
  }

  /** The world ROI covered by a box of voxels of an array with the given voxel size and origin. */
  static fromVoxels(box: VoxelBox, voxelSize: Coordinate, origin: Coordinate = uniform(0)): Roi {
    return new Roi(add(origin, mul(box.begin, voxelSize)), mul(box.shape, voxelSize));
  }

  get begin(): Coordinate {
    return this.offset;
  }
  get end(): Coordinate {
    return add(this.offset, this.shape);
  }
  get size(): number {
    return product(this.shape);
  }
  get empty(): boolean {
    return this.shape.some((s) => s === 0);
  }
  get center(): Coordinate {
    return add(this.offset, div(this.shape, uniform(2)));
  }

  equals(other: Roi): boolean {
    return equals(this.offset, other.offset) && equals(this.shape, other.shape);
  }

  /** True if the point lies inside (begin inclusive, end exclusive), or the ROI lies entirely inside. */
  contains(other: Roi | Coordinate): boolean {
    if (other instanceof Roi) {
      if (other.empty) return true;
      const b = other.begin;
      const e = other.end;
      const sb = this.begin;
      const se = this.end;
      return [0, 1, 2].every((d) => b[d]! >= sb[d]! && e[d]! <= se[d]!);
    }
    const sb = this.begin;
    const se = this.end;
    return [0, 1, 2].every((d) => other[d]! >= sb[d]! && other[d]! < se[d]!);
  }

  intersects(other: Roi): boolean {
    return !this.intersect(other).empty;
  }

  intersect(other: Roi): Roi {
    const b = max(this.begin, other.begin);
    const e = min(this.end, other.end);
    return Roi.fromBeginEnd(b, max(e, b));
  }

  /** Smallest ROI containing both. */
  union(other: Roi): Roi {
    if (this.empty) return other;
    if (other.empty) return this;
    return Roi.fromBeginEnd(min(this.begin, other.begin), max(this.end, other.end));
  }

  /** Grows by `before` at the begin and `after` at the end (negative values shrink). */
  grow(before: Coordinate, after: Coordinate = before): Roi {
    const b = sub(this.begin, before);
    const e = add(this.end, after);
    return Roi.fromBeginEnd(b, max(e, b));
  }

  shift(by: Coordinate): Roi {
    return new Roi(add(this.offset, by), this.shape);
  }

  /**
   * Aligns begin and end to multiples of `grid` (relative to `origin`): "grow" expands outwards,
   * "shrink" contracts inwards, "closest" rounds each bound to the nearest grid line.
   */
  snapToGrid(grid: Coordinate, mode: SnapMode = "grow", origin: Coordinate = uniform(0)): Roi {
    const round = (v: number, g: number, o: number, fn: (x: number) => number) => o + fn((v - o) / g) * g;
    const b = this.begin;
    const e = this.end;
    const nb = coord(
      ...([0, 1, 2].map((d) =>
        round(
          b[d]!,
          grid[d]!,
          origin[d]!,
          mode === "grow" ? Math.floor : mode === "shrink" ? Math.ceil : Math.round,
        ),
      ) as [number, number, number]),
    );
    const ne = coord(
      ...([0, 1, 2].map((d) =>
        round(
          e[d]!,
          grid[d]!,
          origin[d]!,
          mode === "grow" ? Math.ceil : mode === "shrink" ? Math.floor : Math.round,
        ),
      ) as [number, number, number]),
    );
    return Roi.fromBeginEnd(nb, max(ne, nb));
  }

  isAligned(grid: Coordinate, origin: Coordinate = uniform(0)): boolean {
    return (
      this.snapToGrid(grid, "closest", origin).equals(this) && isMultiple(sub(this.offset, origin), grid)
    );
  }

  /**
   * Converts to voxel indices of an array with `voxelSize` and `origin`; the ROI must lie on the voxel grid.
   */
  toVoxels(voxelSize: Coordinate, origin: Coordinate = uniform(0)): VoxelBox {
    const begin = div(sub(this.offset, origin), voxelSize);
    const shape = div(this.shape, voxelSize);
    const r = (v: Coordinate) => coord(Math.round(v[0]), Math.round(v[1]), Math.round(v[2]));
    const rb = r(begin);
    const rs = r(shape);
    const tol = 1e-6;
    for (let d = 0; d < 3; d++) {
      if (Math.abs(rb[d]! - begin[d]!) > tol || Math.abs(rs[d]! - shape[d]!) > tol) {
        throw invalidArgument(
          `ROI ${this.toString()} does not lie on the voxel grid of size ${format(voxelSize)} nm at origin ${format(origin)}`,
        );
      }
    }
    return { begin: rb, shape: rs };
  }

  toString(): string {
    return `[${format(this.begin)}..${format(this.end)}) nm`;
  }

  toJSON(): { offset: number[]; shape: number[] } {
    return { offset: [...this.offset], shape: [...this.shape] };
  }

  static fromJSON(v: unknown, what = "ROI"): Roi {
    const o = v as { offset?: unknown; shape?: unknown } | null;
    if (
      !o ||
      !Array.isArray(o.offset) ||
      !Array.isArray(o.shape) ||
      o.offset.length !== 3 ||
      o.shape.length !== 3
    ) {
      throw invalidArgument(`${what}: expected {"offset": [z,y,x], "shape": [z,y,x]} in nm`);
    }
    return new Roi(
      o.offset.map(Number) as unknown as Coordinate,
      o.shape.map(Number) as unknown as Coordinate,
    );
  }
}

function isMultiple(v: Coordinate, grid: Coordinate): boolean {
  return [0, 1, 2].every((d) => {
    const q = v[d]! / grid[d]!;
    return Math.abs(q - Math.round(q)) < 1e-9;
  });
}

/** Parses "z,y,x:dz,dy,dx" (offset:shape, nm) as a ROI. */
export function parseRoi(text: string, what = "ROI"): Roi {
  const m = /^\s*([^:]+):([^:]+)\s*$/.exec(text);
  if (!m) throw invalidArgument(`${what}: expected 'z,y,x:dz,dy,dx' (offset:shape in nm), got '${text}'`);
  const nums = (s: string) => s.split(",").map((p) => Number(p.trim()));
  const o = nums(m[1]!);
  const s = nums(m[2]!);
  if (
    o.length !== 3 ||
    s.length !== 3 ||
    [...o, ...s].some((n) => !Number.isFinite(n)) ||
    s.some((n) => n <= 0)
  ) {
    throw invalidArgument(`${what}: expected 'z,y,x:dz,dy,dx' with positive shape, got '${text}'`);
  }
  return new Roi(coord(o[0]!, o[1]!, o[2]!), coord(s[0]!, s[1]!, s[2]!));
}
