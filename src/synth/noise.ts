import { hashFast3 } from "../core/random.ts";

/*
 * Seeded value noise evaluated at world positions (callers divide nm by a wavelength), so a texture or a
 * shape perturbation is the same at any voxel size. Lattice values come from a stateless hash: the field
 * exists everywhere at once and any block sees the same values.
 */

const INV = 2 / 4294967296;

function lattice(z: number, y: number, x: number, seed: number): number {
  return hashFast3(z, y, x, seed) * INV - 1;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/**
 * 3D value noise in [-1, 1] (smoothstep-interpolated lattice values). Its gradient is at most
 * `VALUE_NOISE_LIPSCHITZ` per lattice unit, which lets callers bound how fast a perturbed shape can change.
 */
export function valueNoise3(z: number, y: number, x: number, seed: number): number {
  const fz = Math.floor(z);
  const fy = Math.floor(y);
  const fx = Math.floor(x);
  const tz = smooth(z - fz);
  const ty = smooth(y - fy);
  const tx = smooth(x - fx);
  const v000 = lattice(fz, fy, fx, seed);
  const v001 = lattice(fz, fy, fx + 1, seed);
  const v010 = lattice(fz, fy + 1, fx, seed);
  const v011 = lattice(fz, fy + 1, fx + 1, seed);
  const v100 = lattice(fz + 1, fy, fx, seed);
  const v101 = lattice(fz + 1, fy, fx + 1, seed);
  const v110 = lattice(fz + 1, fy + 1, fx, seed);
  const v111 = lattice(fz + 1, fy + 1, fx + 1, seed);
  const a0 = v000 + (v001 - v000) * tx;
  const a1 = v010 + (v011 - v010) * tx;
  const b0 = v100 + (v101 - v100) * tx;
  const b1 = v110 + (v111 - v110) * tx;
  const c0 = a0 + (a1 - a0) * ty;
  const c1 = b0 + (b1 - b0) * ty;
  return c0 + (c1 - c0) * tz;
}

/**
 * Bound on |grad valueNoise3| in lattice units. Each component is at most smoothstep' (1.5) x a value step (2)
 * = 3 and the corner values cannot make all three maximal at once; sampling finds at most 2.97 (the tests
 * check the bound), so 3.5 leaves a margin.
 */
export const VALUE_NOISE_LIPSCHITZ = 3.5;

/**
 * Fractal sum of `octaves` value-noise layers (each half the wavelength and half the amplitude of the
 * previous), normalised to [-1, 1]. Lipschitz bound: `fbmLipschitz(octaves)` per unit of the first octave.
 */
export function fbm3(z: number, y: number, x: number, seed: number, octaves: number): number {
  let sum = 0;
  let amp = 1;
  let norm = 0;
  let f = 1;
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise3(z * f, y * f, x * f, (seed + o * 0x632be5ab) >>> 0);
    norm += amp;
    amp *= 0.5;
    f *= 2;
  }
  return sum / norm;
}

/** Each octave contributes amplitude 2^-o times frequency 2^o, i.e. the same gradient bound. */
export function fbmLipschitz(octaves: number): number {
  let norm = 0;
  let amp = 1;
  for (let o = 0; o < octaves; o++) {
    norm += amp;
    amp *= 0.5;
  }
  return (VALUE_NOISE_LIPSCHITZ * octaves) / norm;
}

/** 1D value noise in [-1, 1] (for slow drifts along one axis). */
export function valueNoise1(t: number, seed: number): number {
  const f = Math.floor(t);
  const a = lattice(f, 0, 0, seed);
  const b = lattice(f + 1, 0, 0, seed);
  return a + (b - a) * smooth(t - f);
}

/** 2D value noise in [-1, 1]. */
export function valueNoise2(y: number, x: number, seed: number): number {
  const fy = Math.floor(y);
  const fx = Math.floor(x);
  const ty = smooth(y - fy);
  const tx = smooth(x - fx);
  const v00 = lattice(0, fy, fx, seed);
  const v01 = lattice(0, fy, fx + 1, seed);
  const v10 = lattice(0, fy + 1, fx, seed);
  const v11 = lattice(0, fy + 1, fx + 1, seed);
  const a = v00 + (v01 - v00) * tx;
  const b = v10 + (v11 - v10) * tx;
  return a + (b - a) * ty;
}
