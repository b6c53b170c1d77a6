/**
 * Thresholds: fixed, and Otsu with skimage.filters.threshold_otsu semantics (nbins 256).
 *
 * skimage histograms integer images with one bin per integer value between the image's minimum and
 * maximum (nbins is ignored for them), and float images with numpy's 256 equal bins between the
 * minimum and maximum; the threshold is the centre of the bin that maximises the between-class
 * variance, first maximum on ties. Both are reproduced here in the same arithmetic, so uint8/uint16
 * thresholds are identical and float ones identical up to numpy's bin-edge rounding.
 *
 * Block-wise: Otsu needs the histogram of the whole volume. Integer volumes: sum
 * `integerHistogram` over blocks, then `otsuFromIntegerHistogram`. Float volumes: reduce
 * `valueRange` over blocks, build `floatHistogramEdges`, sum `floatHistogram` over blocks, then
 * `otsuFromFloatHistogram`. Fixed thresholds are per voxel and need no context.
 *
 * The uint8 threshold and the float32 min/max and histogram scans run in WebAssembly SIMD
 * (src/ops/scan-kernel.ts; `kernel: "js"` forces the plain JS versions, which give the same results).
 */
import { invalidArgument, invalidData } from "../core/errors.ts";
import type { GreyArray } from "./gaussian.ts";
import { histogramFloat32, type ScanKernelChoice, scanFloat32, thresholdAtLeastU8 } from "./scan-kernel.ts";

/** Typed arrays a threshold can be applied to. */
export type NumericArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/**
 * 1 where the value is above the threshold (`value > t`, skimage's `image > threshold_otsu(image)`
 * idiom), or at or above it with `inclusive`; 0 elsewhere. NaN is never above.
 */
export function thresholdFixed(
  input: NumericArray,
  threshold: number,
  opts: { inclusive?: boolean; out?: Uint8Array; kernel?: ScanKernelChoice } = {},
): Uint8Array {
  if (Number.isNaN(threshold)) throw invalidArgument("threshold: must be a number, got NaN");
  const out = opts.out ?? new Uint8Array(input.length);
  if (out.length !== input.length) {
    throw invalidArgument(`threshold: output has ${out.length} elements, input ${input.length}`);
  }
  // Each element type gets its own loop so every loop sees one type (a loop shared by several
  // typed-array types runs several times slower in V8).
  if (input instanceof Uint8Array) {
    const t = opts.inclusive ? Math.ceil(threshold) : Math.floor(threshold) + 1;
    if (t <= 0 || t > 255) out.fill(t <= 0 ? 1 : 0);
    else thresholdAtLeastU8(input, t, out, opts.kernel);
  } else if (input instanceof Uint16Array) {
    const t = opts.inclusive ? Math.ceil(threshold) : Math.floor(threshold) + 1;
    for (let i = 0; i < input.length; i++) out[i] = input[i]! >= t ? 1 : 0;
  } else if (input instanceof Float32Array) {
    if (opts.inclusive) for (let i = 0; i < input.length; i++) out[i] = input[i]! >= threshold ? 1 : 0;
    else for (let i = 0; i < input.length; i++) out[i] = input[i]! > threshold ? 1 : 0;
  } else {
    if (opts.inclusive) for (let i = 0; i < input.length; i++) out[i] = input[i]! >= threshold ? 1 : 0;
    else for (let i = 0; i < input.length; i++) out[i] = input[i]! > threshold ? 1 : 0;
  }
  return out;
}

/**
 * Adds the values of an integer array to a histogram with one bin per possible value (256 for
 * uint8, 65536 for uint16) and returns it; pass the previous result to accumulate over blocks.
 */
export function integerHistogram(input: Uint8Array | Uint16Array, counts?: Float64Array): Float64Array {
  const size = input instanceof Uint8Array ? 256 : 65536;
  const h = counts ?? new Float64Array(size);
  if (h.length !== size) throw invalidArgument(`histogram: expected ${size} bins, got ${h.length}`);
  // Count into 32-bit bins in chunks (integer increments are much faster than float64 ones); for
  // uint8, four interleaved sub-histograms fed from 32-bit words avoid stalls on runs of equal values.
  const tmp = new Uint32Array(input instanceof Uint8Array ? 1024 : size);
  const CHUNK = 1 << 30;
  for (let start = 0; start < input.length; start += CHUNK) {
    const end = Math.min(input.length, start + CHUNK);
    let i = start;
    if (input instanceof Uint8Array) {
      const a = input.byteOffset + start;
      const lead = Math.min(end - start, (4 - (a % 4)) % 4);
      for (; i < start + lead; i++) tmp[input[i]!]!++;
      const words = (end - i) >> 2;
      const w32 = new Uint32Array(input.buffer, input.byteOffset + i, words);
      for (let k = 0; k < words; k++) {
        const w = w32[k]!;
        tmp[w & 255]!++;
        tmp[256 + ((w >>> 8) & 255)]!++;
        tmp[512 + ((w >>> 16) & 255)]!++;
        tmp[768 + (w >>> 24)]!++;
      }
      i += words << 2;
      for (; i < end; i++) tmp[input[i]!]!++;
      for (let v = 0; v < 256; v++) {
        h[v] = h[v]! + tmp[v]! + tmp[256 + v]! + tmp[512 + v]! + tmp[768 + v]!;
      }
    } else {
      for (; i < end; i++) tmp[input[i]!]!++;
      for (let v = 0; v < size; v++) if (tmp[v] !== 0) h[v] = h[v]! + tmp[v]!;
    }
    tmp.fill(0);
  }
  return h;
}

/**
 * skimage's Otsu core: `counts[i]` voxels at `centers[i]`; returns the centre of the bin that
 * maximises weight1 * weight2 * (mean1 - mean2)^2 (first maximum).
 */
function otsuCore(counts: Float64Array, centers: Float64Array): number {
  const n = counts.length;
  if (n < 2) return centers[0]!;
  const w1 = new Float64Array(n);
  const m1 = new Float64Array(n);
  let cw = 0;
  let cs = 0;
  for (let i = 0; i < n; i++) {
    cw += counts[i]!;
    cs += counts[i]! * centers[i]!;
    w1[i] = cw;
    m1[i] = cs / cw;
  }
  const w2 = new Float64Array(n);
  const m2 = new Float64Array(n);
  cw = 0;
  cs = 0;
  for (let i = n - 1; i >= 0; i--) {
    cw += counts[i]!;
    cs += counts[i]! * centers[i]!;
    w2[i] = cw;
    m2[i] = cs / cw;
  }
  let best = 0;
  let bestVar = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n - 1; i++) {
    const d = m1[i]! - m2[i + 1]!;
    const v = w1[i]! * w2[i + 1]! * (d * d);
    // `>` keeps the first maximum (numpy's argmax). Both weights are > 0: the histogram starts
    // and ends with occupied bins.
    if (v > bestVar) {
      bestVar = v;
      best = i;
    }
  }
  return centers[best]!;
}

/**
 * Otsu threshold from an integer histogram (index = value), skimage semantics: bins outside the
 * occupied value range are trimmed; a single occupied value is returned as is.
 */
export function otsuFromIntegerHistogram(counts: ArrayLike<number>): number {
  let lo = 0;
  while (lo < counts.length && counts[lo] === 0) lo++;
  if (lo === counts.length) throw invalidData("otsu threshold: the histogram is empty");
  let hi = counts.length - 1;
  while (counts[hi] === 0) hi--;
  const n = hi - lo + 1;
  const c = new Float64Array(n);
  const centers = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    c[i] = counts[lo + i]!;
    centers[i] = lo + i;
  }
  return otsuCore(c, centers);
}

/** Minimum and maximum of an array, merged with `range` to accumulate over blocks; NaN is an error. */
export function valueRange(input: GreyArray, range?: readonly [number, number]): [number, number] {
  let lo = range ? range[0] : Number.POSITIVE_INFINITY;
  let hi = range ? range[1] : Number.NEGATIVE_INFINITY;
  if (input instanceof Float32Array) {
    const s = scanFloat32(input);
    if (s.nanCount > 0) throw invalidData(NAN_MESSAGE);
    if (s.min < lo) lo = s.min;
    if (hi < s.max) hi = s.max;
    return [lo, hi];
  }
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const v = input[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

const NAN_MESSAGE = "value range: the volume contains NaN; replace NaN values first";

/** numpy.histogram's float32 bin edges for `nbins` equal bins from `min` to `max`. */
export function floatHistogramEdges(min: number, max: number, nbins = 256): Float32Array {
  if (!Number.isInteger(nbins) || nbins < 1)
    throw invalidArgument(`histogram bins: ${nbins} must be an integer >= 1`);
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw invalidArgument(`histogram range [${min}, ${max}]: must be finite with min <= max`);
  }
  let first = Math.fround(min);
  let last = Math.fround(max);
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const edges = new Float32Array(nbins + 1);
  const step = (last - first) / nbins;
  for (let i = 0; i < nbins; i++) edges[i] = i * step + first;
  edges[nbins] = last;
  return edges;
}

/**
 * Adds a float array to a histogram over `edges` (numpy's rule: bin i holds edges[i] <= v <
 * edges[i+1], the last bin also its right edge; values outside are ignored); accumulates.
 */
export function floatHistogram(
  input: Float32Array,
  edges: Float32Array,
  counts?: Float64Array,
): Float64Array {
  const nb = edges.length - 1;
  const h = counts ?? new Float64Array(nb);
  if (h.length !== nb) throw invalidArgument(`histogram: expected ${nb} bins, got ${h.length}`);
  histogramFloat32(input, Float64Array.from(edges), h);
  return h;
}

/** Otsu threshold from a float histogram over `edges` (skimage: the centre of a bin, float32). */
export function otsuFromFloatHistogram(counts: ArrayLike<number>, edges: Float32Array): number {
  const nb = edges.length - 1;
  if (counts.length !== nb) throw invalidArgument(`otsu threshold: ${counts.length} counts for ${nb} bins`);
  const c = new Float64Array(nb);
  const centers = new Float64Array(nb);
  for (let i = 0; i < nb; i++) {
    c[i] = counts[i]!;
    centers[i] = Math.fround(edges[i]! + edges[i + 1]!) / 2;
  }
  return otsuCore(c, centers);
}

/** `skimage.filters.threshold_otsu(input, nbins)` for a whole array. */
export function otsuThreshold(
  input: GreyArray,
  nbins = 256,
  opts: { kernel?: ScanKernelChoice } = {},
): number {
  if (input.length === 0) throw invalidArgument("otsu threshold: the volume is empty");
  if (input instanceof Float32Array) {
    const { min, max, nanCount } = scanFloat32(input, opts.kernel);
    if (nanCount > 0) throw invalidData(NAN_MESSAGE);
    if (min === max) return min;
    const edges = floatHistogramEdges(min, max, nbins);
    const counts = new Float64Array(nbins);
    histogramFloat32(input, Float64Array.from(edges), counts, opts.kernel);
    return otsuFromFloatHistogram(counts, edges);
  }
  return otsuFromIntegerHistogram(integerHistogram(input));
}
