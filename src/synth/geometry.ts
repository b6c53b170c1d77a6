import { fbm3, fbmLipschitz } from "./noise.ts";

/**
 * Signed distance functions of the synthetic cell's shapes, in world units (nm, z,y,x), negative inside.
 * Shapes are packed into Float64Arrays so the per-voxel code reads numbers, not objects. Where a function
 * is not an exact distance (the ellipsoid, noise perturbations) its Lipschitz bound is given so callers can
 * skip whole tiles of voxels safely.
 */

export type Vec3 = [number, number, number];

export interface NoiseSpec {
  /** nm; 0 disables the perturbation. */
  readonly amplitude: number;
  /** nm of the first octave. */
  readonly wavelength: number;
  readonly octaves: number;
  readonly seed: number;
}

export interface EllipsoidSpec {
  readonly center: Vec3;
  /** Semi-axes (nm) along the local axes. */
  readonly radii: Vec3;
  /** Row-major 3x3 rotation from local to world (columns are the local axes in world z,y,x). */
  readonly rotation: readonly number[];
  /** Surface perturbation, evaluated in local coordinates so it moves with the shape. */
  readonly noise: NoiseSpec;
}

export const ELLIPSOID_STRIDE = 20;

export function packEllipsoid(e: EllipsoidSpec): Float64Array {
  const p = new Float64Array(ELLIPSOID_STRIDE);
  p.set(e.center, 0);
  p.set(e.radii, 3);
  p.set(e.rotation.slice(0, 9), 6);
  p[15] = e.noise.amplitude;
  p[16] = e.noise.wavelength > 0 ? 1 / e.noise.wavelength : 0;
  p[17] = e.noise.octaves;
  p[18] = e.noise.seed >>> 0;
  p[19] = Math.min(e.radii[0], e.radii[1], e.radii[2]);
  return p;
}

/**
 * Perturbed ellipsoid. The base is Quilez's first-order distance estimate k0(k0-1)/k1, exact for spheres
 * and close to the true distance near the surface of a moderately elongated ellipsoid, so membranes drawn
 * as bands of this function have nearly uniform thickness.
 */
export function ellipsoidSdf(e: Float64Array, z: number, y: number, x: number): number {
  const dz = z - e[0]!;
  const dy = y - e[1]!;
  const dx = x - e[2]!;
  const lz = e[6]! * dz + e[9]! * dy + e[12]! * dx;
  const ly = e[7]! * dz + e[10]! * dy + e[13]! * dx;
  const lx = e[8]! * dz + e[11]! * dy + e[14]! * dx;
  const az = lz / e[3]!;
  const ay = ly / e[4]!;
  const ax = lx / e[5]!;
  const bz = az / e[3]!;
  const by = ay / e[4]!;
  const bx = ax / e[5]!;
  const k0 = Math.sqrt(az * az + ay * ay + ax * ax);
  const k1 = Math.sqrt(bz * bz + by * by + bx * bx);
  // Near the centre the estimate's gradient grows without bound; every point with k0 <= 0.5 has an estimate
  // <= -0.5 rmin, so clamping at -0.45 rmin keeps it Lipschitz and changes nothing near the surface.
  const floor = -0.45 * e[19]!;
  let d = k1 > 1e-12 ? Math.max(floor, (k0 * (k0 - 1)) / k1) : floor;
  const amp = e[15]!;
  if (amp > 0) {
    const f = e[16]!;
    d += amp * fbm3(lz * f, ly * f, lx * f, e[18]!, e[17]!);
  }
  return d;
}

/**
 * A bound on |grad ellipsoidSdf|. Outside the ellipsoid the clamped estimate's gradient is <= 1; inside it
 * grows with the axis ratio (measured: 1.05 at ratio 1.2, 1.16 at 1.4, 1.35 at 1.6, under 1 + 0.6 (ratio - 1);
 * the tests check it); the noise adds amplitude x fbm's gradient bound / wavelength.
 */
export function ellipsoidLipschitz(spec: EllipsoidSpec): number {
  const r = spec.radii;
  const ratio = Math.max(r[0], r[1], r[2]) / Math.min(r[0], r[1], r[2]);
  const base = 1 + 0.6 * (ratio - 1);
  const n = spec.noise;
  const noise = n.amplitude > 0 ? (n.amplitude * fbmLipschitz(n.octaves)) / n.wavelength : 0;
  return base + noise;
}

// ---- small vector helpers for the layout (not used per voxel) ----

export const vadd = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const vsub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const vscale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const vdot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const vlen = (a: Vec3): number => Math.sqrt(vdot(a, a));
export const vcross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export function vnorm(a: Vec3): Vec3 {
  const l = vlen(a);
  return l > 0 ? vscale(a, 1 / l) : [1, 0, 0];
}

/** Some unit vector perpendicular to `n` (deterministic). */
export function perpendicular(n: Vec3): Vec3 {
  const ref: Vec3 = Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  return vnorm(vcross(n, ref));
}

/** Rotates `v` about unit `axis` by `angle` (Rodrigues). */
export function rotateAbout(v: Vec3, axis: Vec3, angle: number): Vec3 {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const k = vcross(axis, v);
  const d = vdot(axis, v) * (1 - c);
  return [
    v[0] * c + k[0] * s + axis[0] * d,
    v[1] * c + k[1] * s + axis[1] * d,
    v[2] * c + k[2] * s + axis[2] * d,
  ];
}

/**
 * Distance to a spherical-cap surface (sphere centre `c`, unit axis `n`, radius `R`, half-angle with
 * cosine `cosT`/sine `sinT`): the exact distance, so the cap thickened by h (`capDistance - h`) is a true
 * SDF of a curved cisterna with a rounded rim.
 */
export function capDistance(
  cz: number,
  cy: number,
  cx: number,
  nz: number,
  ny: number,
  nx: number,
  R: number,
  cosT: number,
  sinT: number,
  z: number,
  y: number,
  x: number,
): number {
  const vz = z - cz;
  const vy = y - cy;
  const vx = x - cx;
  const r2 = vz * vz + vy * vy + vx * vx;
  const r = Math.sqrt(r2);
  const along = vz * nz + vy * ny + vx * nx;
  if (along >= r * cosT) return Math.abs(r - R);
  const perp = Math.sqrt(Math.max(0, r2 - along * along));
  return Math.sqrt(Math.max(0, r2 + R * R - 2 * R * (along * cosT + perp * sinT)));
}
