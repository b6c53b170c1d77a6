import type { Coordinate } from "../core/coordinate.ts";

/*
 * Hessians of smoothed volumes at single voxels and the eigenvalues of symmetric 3x3 matrices, for
 * the planarity of ER (planarity.ts). Derivatives are central differences in nm (anisotropic voxel
 * sizes), so eigenvalues of different axes compare.
 */

/**
 * The Hessian of `f` (C order z,y,x of `shape`) at flat index `i`, by central differences with the
 * voxel size (nm), times `scale` (pass sigma^2 for the scale-normalised Hessian). Writes
 * zz, yy, xx, zy, zx, yx into `out`. `i` must be at least one voxel inside the volume.
 */
export function hessianAt(
  f: Float32Array | Float64Array,
  shape: Coordinate,
  voxelSize: Coordinate,
  i: number,
  scale: number,
  out: Float64Array,
): void {
  const sy = shape[2];
  const sz = shape[1] * shape[2];
  const [vz, vy, vx] = voxelSize;
  const c = 2 * f[i]!;
  out[0] = ((f[i + sz]! - c + f[i - sz]!) / (vz * vz)) * scale;
  out[1] = ((f[i + sy]! - c + f[i - sy]!) / (vy * vy)) * scale;
  out[2] = ((f[i + 1]! - c + f[i - 1]!) / (vx * vx)) * scale;
  const cross = (a: number, b: number, va: number, vb: number) =>
    ((f[i + a + b]! - f[i + a - b]! - f[i - a + b]! + f[i - a - b]!) / (4 * va * vb)) * scale;
  out[3] = cross(sz, sy, vz, vy);
  out[4] = cross(sz, 1, vz, vx);
  out[5] = cross(sy, 1, vy, vx);
}

/**
 * Eigenvalues of the symmetric matrix [[a, d, e], [d, b, f], [e, f, c]] (closed form, Smith 1961),
 * sorted by increasing absolute value into `out`.
 */
export function symmetricEigenvalues3(
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  f: number,
  out: Float64Array,
): void {
  const p1 = d * d + e * e + f * f;
  let l0: number;
  let l1: number;
  let l2: number;
  if (p1 === 0) {
    l0 = a;
    l1 = b;
    l2 = c;
  } else {
    const q = (a + b + c) / 3;
    const p2 = (a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2 * p1;
    const p = Math.sqrt(p2 / 6);
    // det((M - qI) / p) / 2, clamped against rounding
    const ba = (a - q) / p;
    const bb = (b - q) / p;
    const bc = (c - q) / p;
    const bd = d / p;
    const be = e / p;
    const bf = f / p;
    const det = ba * (bb * bc - bf * bf) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be);
    const r = Math.max(-1, Math.min(1, det / 2));
    const phi = Math.acos(r) / 3;
    l0 = q + 2 * p * Math.cos(phi);
    l2 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
    l1 = 3 * q - l0 - l2;
  }
  // sort three values by |v|
  if (Math.abs(l0) > Math.abs(l1)) [l0, l1] = [l1, l0];
  if (Math.abs(l1) > Math.abs(l2)) [l1, l2] = [l2, l1];
  if (Math.abs(l0) > Math.abs(l1)) [l0, l1] = [l1, l0];
  out[0] = l0;
  out[1] = l1;
  out[2] = l2;
}
