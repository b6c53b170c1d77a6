/**
 * The grey-value inputs of the filter benchmarks (bench/ops-filters.ts, bench/ops-parallel.ts): an
 * EM-like uint8 volume (smoothed noise texture, organelle-like ellipsoids with dark membranes, an
 * illumination gradient, shot noise), its Gaussian smoothing (uint8 and float32), a mask (smoothed >
 * Otsu) and watershed markers in the mask moved downhill to local minima. Deterministic for a seed.
 */
import { coord } from "../src/core/coordinate.ts";
import { gaussianSmooth } from "../src/ops/gaussian.ts";
import { otsuThreshold, thresholdFixed } from "../src/ops/threshold.ts";

export type Arr = Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;

/** The smoothing of the benches: sigma 12 nm on 5.2 x 4 x 4 nm voxels. */
export const SIGMA_NM = coord(12, 12, 12);
export const VOXEL_NM = coord(5.2, 4, 4);

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An EM-like uint8 volume of n^3 voxels. */
export function emLike(n: number, seed: number): Uint8Array {
  const rand = rng(seed);
  const shape = coord(n, n, n);
  const total = n * n * n;
  const noise = new Float32Array(total);
  for (let i = 0; i < total; i++) noise[i] = rand() + rand() + rand() - 1.5;
  const tex = gaussianSmooth(noise, shape, { sigma: coord(1.5, 1.5, 1.5), voxelSize: coord(1, 1, 1) });
  let ss = 0;
  for (let i = 0; i < total; i++) ss += tex[i]! * tex[i]!;
  const scale = 22 / Math.sqrt(ss / total);
  const img = new Float32Array(total);
  for (let i = 0; i < total; i++) img[i] = 150 + scale * tex[i]!;
  const blobs = Math.max(3, Math.round(total / 20000));
  for (let b = 0; b < blobs; b++) {
    const c = [rand() * n, rand() * n, rand() * n];
    const r = [3 + rand() * 12, 3 + rand() * 12, 3 + rand() * 12];
    const shift = -45 + rand() * 75;
    const lo = c.map((v, a) => Math.max(0, Math.floor(v - r[a]! - 1)));
    const hi = c.map((v, a) => Math.min(n, Math.ceil(v + r[a]! + 1)));
    for (let z = lo[0]!; z < hi[0]!; z++) {
      for (let y = lo[1]!; y < hi[1]!; y++) {
        for (let x = lo[2]!; x < hi[2]!; x++) {
          const d = Math.hypot((z - c[0]!) / r[0]!, (y - c[1]!) / r[1]!, (x - c[2]!) / r[2]!);
          const i = (z * n + y) * n + x;
          if (d < 0.85) img[i] = img[i]! + shift;
          else if (Math.abs(d - 0.92) < 0.08) img[i] = img[i]! - 70;
        }
      }
    }
  }
  const out = new Uint8Array(total);
  for (let i = 0; i < total; i++) {
    const x = i % n;
    const v = img[i]! * (0.55 + (0.6 * x) / n) + (rand() + rand() + rand() - 1.5) * 12;
    out[i] = Math.min(255, Math.max(0, Math.round(v)));
  }
  return out;
}

/** Inputs: the EM-like volume, its smoothed versions, a mask (smoothed > Otsu) and seeds in it. */
export function makeInputs(n: number, seed: number): Record<string, Arr> {
  const shape = coord(n, n, n);
  const vol = emLike(n, seed);
  const g = { sigma: SIGMA_NM, voxelSize: VOXEL_NM };
  const smoothU8 = gaussianSmooth(vol, shape, g);
  const smoothF32 = gaussianSmooth(vol, shape, g, { output: "float32" });
  const mask = thresholdFixed(smoothU8, otsuThreshold(smoothU8));
  // Seeds on a grid inside the mask, each moved downhill (steepest descent on the smoothed image,
  // staying in the mask) to a local minimum, as markers of a flood usually are.
  const markers = new Uint32Array(n * n * n);
  let label = 0;
  const step = Math.max(2, Math.round(n / 16));
  const nbr = [-n * n, -n, -1, 1, n, n * n];
  for (let z = step >> 1; z < n; z += step) {
    for (let y = step >> 1; y < n; y += step) {
      for (let x = step >> 1; x < n; x += step) {
        let i = (z * n + y) * n + x;
        if (!mask[i]) continue;
        for (;;) {
          let best = i;
          for (const d of nbr) {
            const j = i + d;
            const jx = j % n;
            if (j < 0 || j >= markers.length || Math.abs(jx - (i % n)) > 1 || !mask[j]) continue;
            if (smoothF32[j]! < smoothF32[best]!) best = j;
          }
          if (best === i) break;
          i = best;
        }
        if (markers[i] === 0) markers[i] = ++label;
      }
    }
  }
  return { vol, smooth_u8: smoothU8, smooth_f32: smoothF32, mask, markers };
}
