import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";

/*
 * The annotator's brushes on the voxel grid of a sub-volume (C order z,y,x). A plane is named by its
 * axis and index; in-plane coordinates are (u, v) = (y, x) on a z plane, (z, x) on a y plane and (z, y)
 * on an x plane, voxel units from the sub-volume's first voxel. A stroke is a polyline through points,
 * painted as disks of `radius` voxels (0: the voxels the line passes through); a plane mask is a
 * run-length encoding of the whole plane (u slowest) as alternating runs starting with "off".
 */

export type Axis = 0 | 1 | 2;

export interface PlaneStroke {
  readonly axis: Axis;
  readonly index: number;
  /** Polyline in (u, v) voxel coordinates. */
  readonly points: readonly (readonly [number, number])[];
  readonly radius: number;
}

/** In-plane sizes (nu, nv) of a plane of `shape` along `axis`. */
export function planeSize(shape: Coordinate, axis: Axis): [number, number] {
  const [d, h, w] = shape;
  return axis === 0 ? [h, w] : axis === 1 ? [d, w] : [d, h];
}

/** Voxel index (C order) of (u, v) on plane `index` along `axis`. */
function voxelOf(shape: Coordinate, axis: Axis, index: number, u: number, v: number): number {
  const [, h, w] = shape;
  return axis === 0
    ? (index * h + u) * w + v
    : axis === 1
      ? (u * h + index) * w + v
      : (u * h + v) * w + index;
}

function checkPlane(shape: Coordinate, axis: Axis, index: number, what: string): void {
  if (axis !== 0 && axis !== 1 && axis !== 2) throw invalidArgument(`${what}: axis must be z, y or x`);
  if (!Number.isInteger(index) || index < 0 || index >= shape[axis]) {
    throw invalidArgument(
      `${what}: plane index ${index} outside 0..${shape[axis] - 1} along ${"zyx"[axis]} (voxels of the sub-volume)`,
    );
  }
}

/** Voxel indices painted by a stroke (each voxel once, in plane order). */
export function strokeVoxels(shape: Coordinate, s: PlaneStroke, what = "stroke"): Int32Array {
  checkPlane(shape, s.axis, s.index, what);
  if (!(s.radius >= 0) || !Number.isFinite(s.radius) || s.radius > 1000) {
    throw invalidArgument(`${what}: radius must be a number of voxels in 0..1000, got ${s.radius}`);
  }
  if (!Array.isArray(s.points) || s.points.length === 0 || s.points.length > 100_000) {
    throw invalidArgument(`${what}: points must be a list of 1..100000 [u, v] pairs`);
  }
  for (const p of s.points) {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((c) => typeof c === "number" && Number.isFinite(c))) {
      throw invalidArgument(`${what}: every point must be [u, v] (two finite numbers, voxels in the plane)`);
    }
  }
  const [nu, nv] = planeSize(shape, s.axis);
  const plane = new Uint8Array(nu * nv);
  const r = s.radius;
  const r2 = r * r + 1e-9;
  const disk = (cu: number, cv: number) => {
    const u0 = Math.max(0, Math.ceil(cu - r - 0.5));
    const u1 = Math.min(nu - 1, Math.floor(cu + r + 0.5));
    for (let u = u0; u <= u1; u++) {
      const du = u - cu;
      const v0 = Math.max(0, Math.ceil(cv - r - 0.5));
      const v1 = Math.min(nv - 1, Math.floor(cv + r + 0.5));
      for (let v = v0; v <= v1; v++) {
        const dv = v - cv;
        if (du * du + dv * dv <= r2 || (Math.round(cu) === u && Math.round(cv) === v)) plane[u * nv + v] = 1;
      }
    }
  };
  const pts = s.points;
  disk(pts[0]![0], pts[0]![1]);
  for (let i = 1; i < pts.length; i++) {
    const [au, av] = pts[i - 1]!;
    const [bu, bv] = pts[i]!;
    const steps = Math.ceil(Math.hypot(bu - au, bv - av) * 2);
    for (let k = 1; k <= steps; k++) disk(au + ((bu - au) * k) / steps, av + ((bv - av) * k) / steps);
  }
  return planeIndices(shape, s.axis, s.index, plane, nv);
}

/** Voxel indices of the "on" runs of a run-length encoded plane mask. */
export function planeMaskVoxels(
  shape: Coordinate,
  axis: Axis,
  index: number,
  runs: readonly number[],
  what = "stroke",
): Int32Array {
  checkPlane(shape, axis, index, what);
  const [nu, nv] = planeSize(shape, axis);
  const plane = decodeRuns(runs, nu * nv, `${what}: mask`);
  return planeIndices(shape, axis, index, plane, nv);
}

function planeIndices(
  shape: Coordinate,
  axis: Axis,
  index: number,
  plane: Uint8Array,
  nv: number,
): Int32Array {
  let count = 0;
  for (let i = 0; i < plane.length; i++) count += plane[i]!;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; i < plane.length; i++) {
    if (plane[i]) out[k++] = voxelOf(shape, axis, index, Math.floor(i / nv), i % nv);
  }
  return out;
}

/** Voxel indices of a list of [z, y, x] voxels of the sub-volume. */
export function listedVoxels(shape: Coordinate, voxels: unknown, what = "voxels"): Int32Array {
  if (!Array.isArray(voxels) || voxels.length > 10_000_000)
    throw invalidArgument(`${what}: expected a list of [z, y, x] voxels`);
  const out = new Int32Array(voxels.length);
  const [d, h, w] = shape;
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i] as unknown;
    if (
      !Array.isArray(v) ||
      v.length !== 3 ||
      !v.every((c, a) => Number.isInteger(c) && c >= 0 && c < shape[a as Axis])
    ) {
      throw invalidArgument(`${what}[${i}]: expected [z, y, x] whole voxels inside ${d}x${h}x${w}`);
    }
    out[i] = ((v[0] as number) * h + (v[1] as number)) * w + (v[2] as number);
  }
  return out;
}

/**
 * Run-length encoding of a 0/1 mask: lengths of alternating runs, the first of zeros (possibly 0
 * long), as uint32. The sum of the runs is the mask's length.
 */
export function encodeRuns(mask: Uint8Array): Uint32Array {
  let changes = 0;
  let prev = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i] ? 1 : 0;
    if (v !== prev) {
      changes++;
      prev = v;
    }
  }
  const out = new Uint32Array(changes + 1);
  prev = 0;
  let k = 0;
  let start = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i] ? 1 : 0;
    if (v !== prev) {
      out[k++] = i - start;
      start = i;
      prev = v;
    }
  }
  out[k] = mask.length - start;
  return out;
}

/** The mask of `length` voxels that `runs` (see encodeRuns) describes. */
export function decodeRuns(runs: ArrayLike<number>, length: number, what = "runs"): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (let k = 0; k < runs.length; k++) {
    const r = runs[k]!;
    if (!Number.isInteger(r) || r < 0 || at + r > length) {
      throw invalidArgument(
        `${what}: run ${k} (${r}) is not a whole number >= 0 or passes the end (${length} voxels)`,
      );
    }
    if (k % 2 === 1) out.fill(1, at, at + r);
    at += r;
  }
  if (at !== length)
    throw invalidArgument(`${what}: runs cover ${at} voxels, the plane or volume has ${length}`);
  return out;
}
