/**
 * Gaussian smoothing with scipy.ndimage.gaussian_filter semantics (mode 'reflect', truncate 4):
 * separable 1D passes along z, then y, then x; kernel radius int(truncate * sigma + 0.5); the
 * data extended at the volume border as 'd c b a | a b c d'. Sigma is given in nm and converted to
 * voxels per axis, so anisotropic voxels are smoothed isotropically in space.
 *
 * Like scipy, every pass accumulates in double precision and stores its result in the output
 * element type before the next pass runs: integer outputs are truncated toward zero after each pass
 * (not rounded), float32 outputs rounded to float32. Taps are summed in scipy's order (centre, then
 * symmetric pairs from the outermost inwards), so results are bit-identical to scipy on the
 * fixtures. (Float32 accumulation would double the SIMD lanes but lose that identity.) The
 * multiply-adds run in src/ops/convolve-kernel.ts (WebAssembly SIMD, JS fallback); this module
 * moves rows in and out of its float64 working buffer with typed-array `set`, which converts types
 * natively.
 *
 * Block-wise: a block needs `gaussianRadius(params)` voxels of context on each side; inside the
 * volume the context must hold real data, at the volume border the reflection is applied here.
 */
import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import {
  type BlockGeometry,
  checkCovers,
  checkGeometry,
  checkLength,
  voxelCount,
  wholeVolume,
} from "./block-geometry.ts";
import { type ConvolveKernel, createConvolveKernel } from "./convolve-kernel.ts";

/** Element types the grey-value filters accept. */
export type GreyArray = Uint8Array | Uint16Array | Float32Array;

export interface GaussianParams {
  /** Standard deviation per axis (z,y,x) in nm; 0 leaves an axis unsmoothed. */
  readonly sigma: Coordinate;
  /** Voxel size (z,y,x) in nm. */
  readonly voxelSize: Coordinate;
  /** The kernel is cut at this many standard deviations (scipy's default 4). */
  readonly truncate?: number;
}

/** "same": the input's element type (scipy's default output); "float32": float32 output. */
export type GaussianOutput = "same" | "float32";

/** scipy skips axes whose sigma is at most this (in voxels). */
const SIGMA_EPS = 1e-15;

export function gaussianSigmaVoxels(params: GaussianParams): Coordinate {
  const { sigma, voxelSize } = params;
  for (let a = 0; a < 3; a++) {
    if (!(sigma[a]! >= 0) || !Number.isFinite(sigma[a]!)) {
      throw invalidArgument(`gaussian sigma ${format(sigma)}: values must be finite numbers of nm >= 0`);
    }
    if (!(voxelSize[a]! > 0) || !Number.isFinite(voxelSize[a]!)) {
      throw invalidArgument(
        `gaussian voxel size ${format(voxelSize)}: values must be positive numbers of nm`,
      );
    }
  }
  return coord(sigma[0] / voxelSize[0], sigma[1] / voxelSize[1], sigma[2] / voxelSize[2]);
}

/** Kernel radius per axis in voxels: the context a block needs on each side. */
export function gaussianRadius(params: GaussianParams): Coordinate {
  const truncate = params.truncate ?? 4;
  if (!(truncate > 0) || !Number.isFinite(truncate)) {
    throw invalidArgument(`gaussian truncate ${truncate}: must be a positive number of standard deviations`);
  }
  const s = gaussianSigmaVoxels(params);
  const r = (v: number) => (v > SIGMA_EPS ? Math.trunc(truncate * v + 0.5) : 0);
  return coord(r(s[0]), r(s[1]), r(s[2]));
}

/**
 * numpy's pairwise summation (what `ndarray.sum()` does for float64), so the kernel is normalised
 * by exactly the same sum as scipy's.
 */
function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j]! += a[start + i + j]!;
    }
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.trunc(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** scipy's normalised 1D Gaussian kernel of 2*radius+1 taps (index radius is the centre). */
export function gaussianKernel1d(sigmaVoxels: number, radius: number): Float64Array {
  const n = 2 * radius + 1;
  const phi = new Float64Array(n);
  const f = -0.5 / (sigmaVoxels * sigmaVoxels);
  for (let i = 0; i < n; i++) {
    const x = i - radius;
    phi[i] = Math.exp(f * (x * x));
  }
  const sum = pairwiseSum(phi, 0, n);
  for (let i = 0; i < n; i++) phi[i] = phi[i]! / sum;
  return phi;
}

/** scipy's 'reflect' extension (period 2n): ... b a | a b c d | d c ... */
function reflectIndex(p: number, n: number): number {
  const period = 2 * n;
  let m = p % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

type OutArray = Uint8Array | Uint16Array | Float32Array;

function allocLike(input: GreyArray, output: GaussianOutput, length: number): OutArray {
  if (output === "float32" || input instanceof Float32Array) return new Float32Array(length);
  return input instanceof Uint8Array ? new Uint8Array(length) : new Uint16Array(length);
}

/** A 3D array with the global voxel index of its element 0. */
interface Stage {
  readonly data: GreyArray;
  readonly dims: Coordinate;
  readonly origin: Coordinate;
}

const roundUp4 = (n: number): number => (n + 3) & ~3;

/** Writes the kernel's weights (outermost first, centre last) at offset 0 of the working buffer. */
function putWeights(k: ConvolveKernel, w: Float64Array, r: number): number {
  k.f64.set(w.subarray(0, r + 1), 0);
  return roundUp4(r + 1);
}

/**
 * Convolves along axis 0 or 1. For each slab (one y for the z pass, one z plane for the y pass),
 * the reflected source rows of every tap position are converted to float64 into a panel, convolved
 * down its columns, and the results converted into the destination on the way out (typed-array
 * `set` does both conversions natively, truncating toward zero into integer outputs like scipy).
 */
function passOuterAxis(
  axis: 0 | 1,
  src: Stage,
  dstRegion: VoxelBox,
  dst: OutArray,
  srcIndex: Int32Array,
  w: Float64Array,
  r: number,
  k: ConvolveKernel,
): void {
  const [dz, dy, dx] = dstRegion.shape;
  const [s0, s1, s2] = src.origin;
  const sd1 = src.dims[1];
  const sd2 = src.dims[2];
  const x0 = dstRegion.begin[2] - s2;
  const len = axis === 0 ? dz : dy;
  const slabs = axis === 0 ? dy : dz;
  const xp = roundUp4(dx);
  const taps = len + 2 * r;
  k.reserve(roundUp4(r + 1) + (taps + len) * xp);
  const pOff = putWeights(k, w, r);
  const oOff = pOff + taps * xp;
  const f = k.f64;
  const data = src.data;
  for (let sl = 0; sl < slabs; sl++) {
    for (let q = 0; q < taps; q++) {
      const row =
        axis === 0
          ? ((srcIndex[q]! - s0) * sd1 + (dstRegion.begin[1] + sl - s1)) * sd2 + x0
          : ((dstRegion.begin[0] + sl - s0) * sd1 + (srcIndex[q]! - s1)) * sd2 + x0;
      f.set(data.subarray(row, row + dx), pOff + q * xp);
    }
    k.convolve(pOff, xp, oOff, xp, len, xp, xp, r, 0);
    for (let q = 0; q < len; q++) {
      const d = (axis === 0 ? q * dy + sl : sl * dy + q) * dx;
      dst.set(f.subarray(oOff + q * xp, oOff + q * xp + dx), d);
    }
  }
}

/** Convolves along x: the rows of each plane are gathered (with reflection) into float64 lines. */
function passInnerAxis(
  src: Stage,
  dstRegion: VoxelBox,
  dst: OutArray,
  srcIndex: Int32Array,
  w: Float64Array,
  r: number,
  k: ConvolveKernel,
): void {
  const [dz, dy, dx] = dstRegion.shape;
  const [s0, s1, s2] = src.origin;
  const sd1 = src.dims[1];
  const sd2 = src.dims[2];
  const data = src.data;
  const xp = roundUp4(dx);
  const extLen = dx + 2 * r;
  const es = xp + 2 * r;
  // The run of tap positions that read consecutive source voxels is copied in one go.
  const local = new Int32Array(extLen);
  for (let q = 0; q < extLen; q++) local[q] = srcIndex[q]! - s2;
  let runStart = r;
  while (runStart > 0 && local[runStart - 1] === local[runStart]! - 1) runStart--;
  let runEnd = r + 1;
  while (runEnd < extLen && local[runEnd] === local[runEnd - 1]! + 1) runEnd++;
  k.reserve(roundUp4(r + 1) + dy * (es + xp));
  const eOff = putWeights(k, w, r);
  const oOff = eOff + dy * es;
  const f = k.f64;
  for (let z = 0; z < dz; z++) {
    const gz = dstRegion.begin[0] + z;
    for (let y = 0; y < dy; y++) {
      const row = ((gz - s0) * sd1 + (dstRegion.begin[1] + y - s1)) * sd2;
      const e = eOff + y * es;
      for (let q = 0; q < runStart; q++) f[e + q] = data[row + local[q]!]!;
      f.set(data.subarray(row + local[runStart]!, row + local[runEnd - 1]! + 1), e + runStart);
      for (let q = runEnd; q < extLen; q++) f[e + q] = data[row + local[q]!]!;
    }
    k.convolve(eOff, es, oOff, xp, dy, xp, 1, r, 0);
    for (let y = 0; y < dy; y++) dst.set(f.subarray(oOff + y * xp, oOff + y * xp + dx), (z * dy + y) * dx);
  }
}

export interface GaussianOptions {
  /** Output element type (default "same"). */
  readonly output?: GaussianOutput;
  /** "auto" runs the multiply-adds in WebAssembly SIMD where available; "js" forces plain JS. */
  readonly kernel?: "auto" | "js";
}

/**
 * Smooths the write box of a block. The input covers `geometry.read`; the result covers
 * `geometry.write` (C-order). Throws if the read box lacks the context `gaussianRadius` asks for.
 */
export function gaussianBlock(
  input: Uint8Array,
  geometry: BlockGeometry,
  params: GaussianParams,
  opts?: GaussianOptions & { output?: "same" },
): Uint8Array;
export function gaussianBlock(
  input: Uint16Array,
  geometry: BlockGeometry,
  params: GaussianParams,
  opts?: GaussianOptions & { output?: "same" },
): Uint16Array;
export function gaussianBlock(
  input: GreyArray,
  geometry: BlockGeometry,
  params: GaussianParams,
  opts: GaussianOptions & { output: "float32" },
): Float32Array;
export function gaussianBlock(
  input: Float32Array,
  geometry: BlockGeometry,
  params: GaussianParams,
  opts?: GaussianOptions,
): Float32Array;
export function gaussianBlock(
  input: GreyArray,
  geometry: BlockGeometry,
  params: GaussianParams,
  opts?: GaussianOptions,
): GreyArray;
export function gaussianBlock(
  input: GreyArray,
  geometry: BlockGeometry,
  params: GaussianParams,
  opts: GaussianOptions = {},
): GreyArray {
  const output = opts.output ?? "same";
  checkGeometry(geometry, input.length, "gaussian");
  const sigma = gaussianSigmaVoxels(params);
  const radius = gaussianRadius(params);
  const { volumeShape, write } = geometry;

  // Per axis: the reflected global source index of every tap position, and its bounding range.
  const srcIndex: Int32Array[] = [];
  const needBegin = [0, 0, 0];
  const needEnd = [0, 0, 0];
  const active = [false, false, false];
  for (let a = 0; a < 3; a++) {
    active[a] = sigma[a]! > SIGMA_EPS;
    const r = active[a] ? radius[a]! : 0;
    const w0 = write.begin[a]!;
    const len = write.shape[a]! + 2 * r;
    const idx = new Int32Array(len);
    let lo = w0;
    let hi = w0 + write.shape[a]!;
    for (let q = 0; q < len; q++) {
      const s = reflectIndex(w0 - r + q, volumeShape[a]!);
      idx[q] = s;
      if (s < lo) lo = s;
      if (s + 1 > hi) hi = s + 1;
    }
    srcIndex.push(idx);
    needBegin[a] = lo;
    needEnd[a] = hi;
  }
  const need: VoxelBox = {
    begin: coord(needBegin[0]!, needBegin[1]!, needBegin[2]!),
    shape: coord(needEnd[0]! - needBegin[0]!, needEnd[1]! - needBegin[1]!, needEnd[2]! - needBegin[2]!),
  };
  if (voxelCount(write.shape) === 0) return allocLike(input, output, 0);
  checkCovers(geometry, need, "gaussian");

  const kernel = createConvolveKernel(opts.kernel);
  let stage: Stage = { data: input, dims: geometry.read.shape, origin: geometry.read.begin };
  // The region still to be produced shrinks from `need` to `write` axis by axis, in scipy's order.
  const regionBegin = [...needBegin];
  const regionShape = [...need.shape];
  let passes = 0;
  for (let a = 0; a < 3; a++) {
    if (!active[a]) continue;
    regionBegin[a] = write.begin[a]!;
    regionShape[a] = write.shape[a]!;
    const region: VoxelBox = {
      begin: coord(regionBegin[0]!, regionBegin[1]!, regionBegin[2]!),
      shape: coord(regionShape[0]!, regionShape[1]!, regionShape[2]!),
    };
    const dst = allocLike(input, output, voxelCount(region.shape));
    const w = gaussianKernel1d(sigma[a]!, radius[a]!);
    if (a === 2) passInnerAxis(stage, region, dst, srcIndex[2]!, w, radius[2]!, kernel);
    else passOuterAxis(a as 0 | 1, stage, region, dst, srcIndex[a]!, w, radius[a]!, kernel);
    stage = { data: dst, dims: region.shape, origin: region.begin };
    passes++;
  }
  // After the passes the region is the write box.
  if (passes > 0) return stage.data;
  // No axis is smoothed (scipy copies): copy and cast the write box.
  const out = allocLike(input, output, voxelCount(write.shape));
  const [wz, wy, wx] = write.shape;
  let d = 0;
  for (let z = 0; z < wz; z++) {
    for (let y = 0; y < wy; y++) {
      const s =
        ((write.begin[0] + z - stage.origin[0]) * stage.dims[1] + (write.begin[1] + y - stage.origin[1])) *
          stage.dims[2] +
        (write.begin[2] - stage.origin[2]);
      for (let x = 0; x < wx; x++) out[d++] = stage.data[s + x]!;
    }
  }
  return out;
}

/** Smooths a whole volume (C-order z,y,x of `shape`). */
export function gaussianSmooth(
  input: Uint8Array,
  shape: Coordinate,
  params: GaussianParams,
  opts?: GaussianOptions & { output?: "same" },
): Uint8Array;
export function gaussianSmooth(
  input: Uint16Array,
  shape: Coordinate,
  params: GaussianParams,
  opts?: GaussianOptions & { output?: "same" },
): Uint16Array;
export function gaussianSmooth(
  input: GreyArray,
  shape: Coordinate,
  params: GaussianParams,
  opts: GaussianOptions & { output: "float32" },
): Float32Array;
export function gaussianSmooth(
  input: Float32Array,
  shape: Coordinate,
  params: GaussianParams,
  opts?: GaussianOptions,
): Float32Array;
export function gaussianSmooth(
  input: GreyArray,
  shape: Coordinate,
  params: GaussianParams,
  opts?: GaussianOptions,
): GreyArray;
export function gaussianSmooth(
  input: GreyArray,
  shape: Coordinate,
  params: GaussianParams,
  opts: GaussianOptions = {},
): GreyArray {
  checkLength(input.length, shape, "gaussian input");
  return gaussianBlock(input, wholeVolume(shape), params, opts);
}
