import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import type { Volume } from "../store/volume.ts";

/*
 * Geometry shared by the nuclear-pore and coated-pit analyses: one streaming pass over an instance
 * array for each object's voxel count, centroid, second moments and bounding box; plane and quadric
 * fits; symmetric 3x3 eigen-decomposition; trilinear sampling; reading crops around objects.
 * Positions are world nm of voxel centres (offset + (index + 0.5) * voxel size), z,y,x.
 */

export type Vec3 = [number, number, number];

export interface InstanceMoments {
  readonly id: number;
  readonly voxels: number;
  /** Centroid (nm). */
  readonly centroid: Vec3;
  /** Covariance (nm^2) zz, yy, xx, zy, zx, yx. */
  readonly covariance: readonly number[];
  /** Voxel bounding box: first voxel and shape. */
  readonly box: VoxelBox;
}

const ACC = 13; // n, sz, sy, sx, szz, syy, sxx, szy, szx, syx, (min z,y,x kept apart)

/** Per-instance moments of a label array, read slab by slab (bounded memory). */
export async function instanceMoments(vol: Volume, signal?: AbortSignal): Promise<InstanceMoments[]> {
  if (!["uint8", "uint16", "uint32", "int32"].includes(vol.meta.dtype)) {
    throw invalidArgument(
      `${vol.describe()} is ${vol.meta.dtype}; give an instance array (uint8, uint16, uint32 or int32 ids), e.g. after organelle refine`,
    );
  }
  if (vol.meta.kind === "intensity") {
    throw invalidArgument(
      `${vol.describe()} is an intensity image; give an instance array (labels/... or segmentations/...)`,
    );
  }
  const [nz, ny, nx] = vol.meta.shape;
  const slab = Math.max(1, vol.meta.chunks[0]);
  const acc = new Map<number, Float64Array>();
  const bounds = new Map<number, Int32Array>();
  for (let z0 = 0; z0 < nz; z0 += slab) {
    const dz = Math.min(slab, nz - z0);
    const data = (await vol.readBox(
      { begin: coord(z0, 0, 0), shape: coord(dz, ny, nx) },
      { signal },
    )) as ArrayLike<number>;
    let i = 0;
    for (let z = z0; z < z0 + dz; z++) {
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++, i++) {
          const id = data[i]!;
          if (id === 0) continue;
          let a = acc.get(id);
          let b = bounds.get(id);
          if (!a || !b) {
            a = new Float64Array(ACC);
            b = Int32Array.of(z, y, x, z, y, x);
            acc.set(id, a);
            bounds.set(id, b);
          }
          a[0]!++;
          a[1]! += z;
          a[2]! += y;
          a[3]! += x;
          a[4]! += z * z;
          a[5]! += y * y;
          a[6]! += x * x;
          a[7]! += z * y;
          a[8]! += z * x;
          a[9]! += y * x;
          if (z < b[0]!) b[0] = z;
          if (y < b[1]!) b[1] = y;
          if (x < b[2]!) b[2] = x;
          if (z > b[3]!) b[3] = z;
          if (y > b[4]!) b[4] = y;
          if (x > b[5]!) b[5] = x;
        }
      }
    }
  }
  const vs = vol.meta.voxelSize;
  const off = vol.meta.offset;
  return [...acc.keys()]
    .sort((p, q) => p - q)
    .map((id) => {
      const a = acc.get(id)!;
      const b = bounds.get(id)!;
      const n = a[0]!;
      const m = [a[1]! / n, a[2]! / n, a[3]! / n];
      const cov = (s: number, i: number, j: number) => (a[s]! / n - m[i]! * m[j]!) * vs[i]! * vs[j]!;
      return {
        id,
        voxels: n,
        centroid: [0, 1, 2].map((d) => off[d]! + (m[d]! + 0.5) * vs[d]!) as Vec3,
        covariance: [cov(4, 0, 0), cov(5, 1, 1), cov(6, 2, 2), cov(7, 0, 1), cov(8, 0, 2), cov(9, 1, 2)],
        box: {
          begin: coord(b[0]!, b[1]!, b[2]!),
          shape: coord(b[3]! - b[0]! + 1, b[4]! - b[1]! + 1, b[5]! - b[2]! + 1),
        },
      };
    });
}

/**
 * Eigen-decomposition of a symmetric 3x3 matrix given as zz, yy, xx, zy, zx, yx (cyclic Jacobi).
 * Returns eigenvalues ascending and unit eigenvectors in the same order.
 */
export function symmetricEigen(c: readonly number[]): { values: Vec3; vectors: [Vec3, Vec3, Vec3] } {
  const a = [
    [c[0]!, c[3]!, c[4]!],
    [c[3]!, c[1]!, c[5]!],
    [c[4]!, c[5]!, c[2]!],
  ];
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 3; p++) for (let q = p + 1; q < 3; q++) off += a[p]![q]! ** 2;
    if (off < 1e-30 * (a[0]![0]! ** 2 + a[1]![1]! ** 2 + a[2]![2]! ** 2 + 1e-300)) break;
    for (let p = 0; p < 3; p++) {
      for (let q = p + 1; q < 3; q++) {
        const apq = a[p]![q]!;
        if (apq === 0) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < 3; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = cs * akp - sn * akq;
          a[k]![q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < 3; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = cs * apk - sn * aqk;
          a[q]![k] = sn * apk + cs * aqk;
        }
        for (let k = 0; k < 3; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = cs * vkp - sn * vkq;
          v[k]![q] = sn * vkp + cs * vkq;
        }
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[i]![i]! - a[j]![j]!);
  const vec = (i: number): Vec3 => [v[0]![i]!, v[1]![i]!, v[2]![i]!];
  return {
    values: order.map((i) => a[i]![i]!) as Vec3,
    vectors: order.map(vec) as [Vec3, Vec3, Vec3],
  };
}

/** Covariance (zz, yy, xx, zy, zx, yx) and mean of points packed z,y,x. */
export function pointMoments(points: readonly number[]): { mean: Vec3; covariance: number[] } {
  const n = points.length / 3;
  const m: Vec3 = [0, 0, 0];
  for (let i = 0; i < points.length; i += 3) for (let d = 0; d < 3; d++) m[d]! += points[i + d]! / n;
  const c = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < points.length; i += 3) {
    const z = points[i]! - m[0];
    const y = points[i + 1]! - m[1];
    const x = points[i + 2]! - m[2];
    c[0]! += z * z;
    c[1]! += y * y;
    c[2]! += x * x;
    c[3]! += z * y;
    c[4]! += z * x;
    c[5]! += y * x;
  }
  return { mean: m, covariance: c.map((v) => v / Math.max(1, n)) };
}

/** Two unit vectors completing n to a right-handed orthonormal frame. */
export function frameOf(n: Vec3): [Vec3, Vec3] {
  const a: Vec3 = Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  const e1 = normalize(cross(n, a));
  return [e1, cross(n, e1)];
}

export const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export function normalize(a: Vec3): Vec3 {
  const l = Math.hypot(a[0], a[1], a[2]);
  return l > 0 ? [a[0] / l, a[1] / l, a[2] / l] : [0, 0, 0];
}

/** Solves a small dense linear system (Gaussian elimination with partial pivoting); undefined if singular. */
export function solve(A: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    if (Math.abs(M[p]![c]!) < 1e-12) return undefined;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * x[k]!;
    x[r] = s / M[r]![r]!;
  }
  return x;
}

/** A box of an array read around a world point, with world <-> index conversion and sampling. */
export class Crop {
  readonly box: VoxelBox;
  readonly data: Float32Array;
  readonly voxelSize: Coordinate;
  readonly offset: Coordinate;

  constructor(box: VoxelBox, data: Float32Array, voxelSize: Coordinate, offset: Coordinate) {
    this.box = box;
    this.data = data;
    this.voxelSize = voxelSize;
    this.offset = offset;
  }

  /** Reads the voxels within `radius` nm (per axis) of `center`; outside the array reads as `fill`. */
  static async around(vol: Volume, center: Vec3, radius: number, fill = 0): Promise<Crop> {
    const vs = vol.meta.voxelSize;
    const off = vol.meta.offset;
    const lo = [0, 1, 2].map((d) => Math.floor((center[d]! - radius - off[d]!) / vs[d]!));
    const hi = [0, 1, 2].map((d) => Math.ceil((center[d]! + radius - off[d]!) / vs[d]!));
    const box: VoxelBox = {
      begin: coord(lo[0]!, lo[1]!, lo[2]!),
      shape: coord(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!),
    };
    return Crop.read(vol, box, fill);
  }

  static async read(vol: Volume, box: VoxelBox, fill = 0): Promise<Crop> {
    const raw = (await vol.readBox(box, { fill })) as ArrayLike<number>;
    return new Crop(box, Float32Array.from(raw), vol.meta.voxelSize, vol.meta.offset);
  }

  /** World position (nm) of voxel (z, y, x) of the crop. */
  world(z: number, y: number, x: number): Vec3 {
    const b = this.box.begin;
    const vs = this.voxelSize;
    const o = this.offset;
    return [
      o[0] + (b[0] + z + 0.5) * vs[0],
      o[1] + (b[1] + y + 0.5) * vs[1],
      o[2] + (b[2] + x + 0.5) * vs[2],
    ];
  }

  /** Trilinear value at a world point; NaN outside the crop. */
  sample(z: number, y: number, x: number): number {
    const b = this.box.begin;
    const s = this.box.shape;
    const vs = this.voxelSize;
    const o = this.offset;
    const fz = (z - o[0]) / vs[0] - 0.5 - b[0];
    const fy = (y - o[1]) / vs[1] - 0.5 - b[1];
    const fx = (x - o[2]) / vs[2] - 0.5 - b[2];
    const iz = Math.floor(fz);
    const iy = Math.floor(fy);
    const ix = Math.floor(fx);
    if (iz < 0 || iy < 0 || ix < 0 || iz + 1 >= s[0] || iy + 1 >= s[1] || ix + 1 >= s[2]) return Number.NaN;
    const tz = fz - iz;
    const ty = fy - iy;
    const tx = fx - ix;
    const d = this.data;
    const sy = s[2];
    const sz = s[1] * s[2];
    const i = iz * sz + iy * sy + ix;
    const l = (j: number) => d[j]! + tx * (d[j + 1]! - d[j]!);
    const a = l(i) + ty * (l(i + sy) - l(i));
    const c = l(i + sz) + ty * (l(i + sz + sy) - l(i + sz));
    return a + tz * (c - a);
  }
}
