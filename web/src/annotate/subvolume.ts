/*
 * The annotator's sub-volume on the client: the ROI on raw's voxel grid and the 0/1 or 0/1/2 arrays over
 * it (C order z,y,x). Brush strokes are rasterised here exactly as the server does (src/annotate/brush.ts:
 * disks of `radius` voxels along a polyline in the plane's (u, v) = (row, col) voxels), so a stroke shows
 * the moment it is drawn and the server's copy agrees voxel for voxel.
 */
import type { Vec3 } from "../api.ts";
import { type Axis, planeDims } from "../data/protocol.ts";

export interface SubVolume {
  /** World position (nm) of the first voxel's corner. */
  begin: Vec3;
  voxelSize: Vec3;
  /** Voxels along z, y, x. */
  shape: Vec3;
}

export const voxelCount = (s: SubVolume): number => s.shape[0] * s.shape[1] * s.shape[2];

export const roiEnd = (s: SubVolume): Vec3 =>
  [0, 1, 2].map((d) => s.begin[d]! + s.shape[d]! * s.voxelSize[d]!) as Vec3;

/** Voxel coordinate (fractional) of a world coordinate along d; floor it for the voxel index. */
export const toVoxel = (s: SubVolume, d: Axis, world: number): number =>
  (world - s.begin[d]) / s.voxelSize[d];

/** The plane of the sub-volume a view at `position` looking along `axis` shows, or -1 outside. */
export function planeIndex(s: SubVolume, axis: Axis, position: Vec3): number {
  const i = Math.floor(toVoxel(s, axis, position[axis]));
  return i >= 0 && i < s.shape[axis] ? i : -1;
}

/** In-plane sizes (rows, cols) of a plane along `axis`. */
export function planeShape(s: SubVolume, axis: Axis): [number, number] {
  const [rd, cd] = planeDims(axis);
  return [s.shape[rd], s.shape[cd]];
}

/** C-order index of the voxel at (row, col) of plane `index` along `axis`. */
export function voxelOf(s: SubVolume, axis: Axis, index: number, row: number, col: number): number {
  const [, h, w] = s.shape;
  return axis === 0
    ? (index * h + row) * w + col
    : axis === 1
      ? (row * h + index) * w + col
      : (row * h + col) * w + index;
}

export interface PlaneStroke {
  axis: Axis;
  index: number;
  /** Polyline in (row, col) voxel coordinates of the plane (voxel centres at +0.5 are not implied). */
  points: [number, number][];
  radius: number;
}

/** Voxel indices a stroke paints: the server's rasterisation (disks along the polyline). */
export function strokeVoxels(s: SubVolume, st: PlaneStroke): Int32Array {
  const [nu, nv] = planeShape(s, st.axis);
  const plane = new Uint8Array(nu * nv);
  const r = st.radius;
  const r2 = r * r + 1e-9;
  const disk = (cu: number, cv: number) => {
    const u0 = Math.max(0, Math.ceil(cu - r - 0.5));
    const u1 = Math.min(nu - 1, Math.floor(cu + r + 0.5));
    const v0 = Math.max(0, Math.ceil(cv - r - 0.5));
    const v1 = Math.min(nv - 1, Math.floor(cv + r + 0.5));
    const ru = Math.round(cu);
    const rv = Math.round(cv);
    for (let u = u0; u <= u1; u++) {
      const du = u - cu;
      for (let v = v0; v <= v1; v++) {
        const dv = v - cv;
        if (du * du + dv * dv <= r2 || (ru === u && rv === v)) plane[u * nv + v] = 1;
      }
    }
  };
  const pts = st.points;
  if (!pts.length) return new Int32Array(0);
  disk(pts[0]![0], pts[0]![1]);
  for (let i = 1; i < pts.length; i++) {
    const [au, av] = pts[i - 1]!;
    const [bu, bv] = pts[i]!;
    const steps = Math.ceil(Math.hypot(bu - au, bv - av) * 2);
    for (let k = 1; k <= steps; k++) disk(au + ((bu - au) * k) / steps, av + ((bv - av) * k) / steps);
  }
  let count = 0;
  for (let i = 0; i < plane.length; i++) count += plane[i]!;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; i < plane.length; i++) {
    if (plane[i]) out[k++] = voxelOf(s, st.axis, st.index, Math.floor(i / nv), i % nv);
  }
  return out;
}

/** Writes `value` into `target` at `indices`. */
export function paint(target: Uint8Array, indices: Int32Array, value: number): void {
  for (let k = 0; k < indices.length; k++) target[indices[k]!] = value;
}

/** Run-length decoding (alternating runs, the first of zeros), the server's mask transport. */
export function decodeRuns(runs: ArrayLike<number>, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (let k = 0; k < runs.length; k++) {
    const r = runs[k]!;
    if (!(r >= 0) || at + r > length) throw new Error(`mask runs pass the sub-volume's ${length} voxels`);
    if (k % 2 === 1) out.fill(1, at, at + r);
    at += r;
  }
  if (at !== length) throw new Error(`mask runs cover ${at} voxels, the sub-volume has ${length}`);
  return out;
}

/** Run-length encoding of a 0/1 mask (see decodeRuns). */
export function encodeRuns(mask: Uint8Array): number[] {
  const out: number[] = [];
  let prev = 0;
  let start = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i] ? 1 : 0;
    if (v !== prev) {
      out.push(i - start);
      start = i;
      prev = v;
    }
  }
  out.push(mask.length - start);
  return out;
}
