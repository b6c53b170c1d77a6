import { type Coordinate, coord } from "../core/coordinate.ts";
import { fmix32, gaussianFromHashes, hash3, hashFast3, unit } from "../core/random.ts";
import type { VoxelBox } from "../core/roi.ts";
import { valueNoise1, valueNoise2 } from "./noise.ts";

/*
 * The microscope: a Gaussian point-spread function, slow contrast/brightness drift from slice to slice,
 * curtaining stripes along the milling direction, and shot-like noise. Each is a function of global voxel
 * indices or world positions (noise hashes the voxel index with the seed; it is never drawn from a stream),
 * so a block renders the same bytes whatever blocks surround it.
 */

export interface ImagingParams {
  /** Gaussian PSF standard deviation (nm, z,y,x); 0 on an axis disables blurring along it. */
  readonly blur: Coordinate;
  /** Noise standard deviation in grey levels at cytoplasm brightness (0 = none). */
  readonly noise: number;
  /** Strength of the slow contrast/brightness drift along z (1 = typical, 0 = none). */
  readonly drift: number;
  /** Strength of curtaining stripes (1 = typical, 0 = none). */
  readonly curtain: number;
  /** Seed of the noise, drift and curtains. */
  readonly seed: number;
}

export const DEFAULT_IMAGING = {
  blur: coord(5, 4, 4),
  noise: 12,
  drift: 1,
  curtain: 1,
} as const;

/** A normalised Gaussian kernel of `sigmaNm` on voxels of `voxelNm`, radius ceil(3 sigma). */
export function gaussianKernel(sigmaNm: number, voxelNm: number): Float64Array {
  const sigma = sigmaNm / voxelNm;
  if (!(sigma > 0.05)) return Float64Array.of(1);
  const radius = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Voxels of scene context a block needs on each side for the blur. */
export function blurMargin(imaging: ImagingParams, voxelSize: Coordinate): Coordinate {
  const r = (d: number) => (gaussianKernel(imaging.blur[d]!, voxelSize[d]!).length - 1) / 2;
  return coord(r(0), r(1), r(2));
}

/**
 * Blurs `density` (the scene on `grown`, which is `box` grown by blurMargin) and applies drift, curtains and
 * noise; returns the uint8 image of `box`.
 */
export function applyImaging(
  density: Float32Array,
  grown: VoxelBox,
  box: VoxelBox,
  grid: { voxelSize: Coordinate; offset?: Coordinate },
  imaging: ImagingParams,
): Uint8Array {
  const vs = grid.voxelSize;
  const origin = grid.offset ?? coord(0, 0, 0);
  const kz = gaussianKernel(imaging.blur[0], vs[0]);
  const ky = gaussianKernel(imaging.blur[1], vs[1]);
  const kx = gaussianKernel(imaging.blur[2], vs[2]);
  const [gz, gy, gx] = grown.shape;
  const [nz, ny, nx] = box.shape;
  const mz = box.begin[0] - grown.begin[0];
  const my = box.begin[1] - grown.begin[1];
  const mx = box.begin[2] - grown.begin[2];

  // Separable passes, each shrinking one axis from the grown box to the output box.
  const t1 = convolveAxis(density, [gz, gy, gx], 2, kx, mx, nx, scratch("a", gz * gy * nx));
  const t2 = convolveAxis(t1, [gz, gy, nx], 1, ky, my, ny, scratch("b", gz * ny * nx));
  const blurred = convolveAxis(t2, [gz, ny, nx], 0, kz, mz, nz, scratch("a", nz * ny * nx));

  const seed = imaging.seed >>> 0;
  const s = (k: number) => (seed ^ Math.imul(k, 0x9e3779b9)) >>> 0;
  const out = new Uint8Array(nz * ny * nx);
  const stripes = new Float64Array(nx);
  const noise = imaging.noise;
  const noiseSeed = s(7);
  const noiseSeed2 = s(8);
  const drift = imaging.drift;
  const curtain = imaging.curtain;
  for (let z = 0; z < nz; z++) {
    const iz = box.begin[0] + z;
    const wz = origin[0] + (iz + 0.5) * vs[0];
    const contrast = 1 + drift * (0.06 * valueNoise1(wz / 700, s(1)) + 0.02 * valueNoise1(wz / 110, s(2)));
    const brightness =
      drift * (6 * valueNoise1(wz / 900, s(3)) + 1.5 * (2 * unit(hash3(iz, 0x5bd1, 0, s(4))) - 1));
    for (let x = 0; x < nx; x++) {
      const wx = origin[2] + (box.begin[2] + x + 0.5) * vs[2];
      // Curtains: thin streaks along y whose strength varies slowly with depth.
      stripes[x] =
        curtain === 0
          ? 0
          : curtain * 4 * valueNoise2(wz / 1500, wx / 45, s(5)) * (0.6 + 0.4 * valueNoise1(wx / 600, s(6)));
    }
    for (let y = 0; y < ny; y++) {
      const iy = box.begin[1] + y;
      const row = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) {
        let v = (blurred[row + x]! - 128) * contrast + 128 + brightness + stripes[x]!;
        if (noise > 0) {
          const ix = box.begin[2] + x;
          // Shot-like: the spread grows with the signal (bright resin is noisier than dark membranes).
          const sd = noise * Math.sqrt(0.35 + (0.65 * Math.max(v, 0)) / 150);
          const h1 = hashFast3(iz, iy, ix, noiseSeed);
          v += sd * gaussianFromHashes(h1, fmix32((h1 ^ noiseSeed2) >>> 0));
        }
        const q = Math.round(v);
        out[row + x] = q < 0 ? 0 : Math.min(q, 255);
      }
    }
  }
  return out;
}

/** Scratch reused across blocks (one block at a time per thread): intermediate passes and one row. */
let passA = new Float32Array(0);
let passB = new Float32Array(0);
let rowAcc = new Float64Array(0);

function scratch(which: "a" | "b", n: number): Float32Array {
  if (which === "a") {
    if (passA.length < n) passA = new Float32Array(n);
    return passA.subarray(0, n);
  }
  if (passB.length < n) passB = new Float32Array(n);
  return passB.subarray(0, n);
}

/**
 * Convolves along `axis` of a C-order array of `shape`, keeping output positions margin..margin+n-1 of that
 * axis (the other axes keep their size). Along z and y whole rows are accumulated (in float64) tap by tap,
 * which reads memory sequentially; every output sums the same taps in the same order wherever it lies.
 */
function convolveAxis(
  src: Float32Array,
  shape: [number, number, number],
  axis: 0 | 1 | 2,
  kernel: Float64Array,
  margin: number,
  n: number,
  dst: Float32Array,
): Float32Array {
  const [s0, s1, s2] = shape;
  const r = (kernel.length - 1) / 2;
  const kl = kernel.length;
  if (axis === 2) {
    for (let a = 0; a < s0 * s1; a++) {
      const srcRow = a * s2;
      const dstRow = a * n;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        const base = srcRow + margin + i - r;
        for (let k = 0; k < kl; k++) acc += kernel[k]! * src[base + k]!;
        dst[dstRow + i] = acc;
      }
    }
    return dst;
  }
  // Rows of `len` contiguous values; output row i of slab a sums input rows margin+i-r .. margin+i+r.
  const len = axis === 1 ? s2 : s1 * s2;
  const slabs = axis === 1 ? s0 : 1;
  const rows = axis === 1 ? s1 : s0;
  if (rowAcc.length < len) rowAcc = new Float64Array(len);
  const acc = rowAcc;
  for (let a = 0; a < slabs; a++) {
    for (let i = 0; i < n; i++) {
      acc.fill(0, 0, len);
      for (let k = 0; k < kl; k++) {
        const w = kernel[k]!;
        const srcRow = (a * rows + margin + i - r + k) * len;
        for (let c = 0; c < len; c++) acc[c]! += w * src[srcRow + c]!;
      }
      const dstRow = (a * n + i) * len;
      for (let c = 0; c < len; c++) dst[dstRow + c] = acc[c]!;
    }
  }
  return dst;
}
