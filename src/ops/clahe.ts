/**
 * 3D CLAHE with skimage.exposure.equalize_adapthist semantics (skimage 0.19's _adapthist.py is the
 * reference; this is a faithful typed-array port):
 *
 * 1. The input is stretched from its value range to 0..16383 (img_as_uint, rescale_intensity,
 *    round half to even) and binned into `nbins` bins of 1 + 16384 // nbins grey levels.
 * 2. Contextual regions ("tiles") of `kernelSize` voxels tile the volume from its origin; the last
 *    tile along an axis reaches past the volume and sees numpy's 'reflect' padding
 *    ('d c b | a b c d | c b a', repeated for volumes smaller than a tile).
 * 3. Each tile's histogram is clipped at max(1, int(clipLimit * voxels per tile)) and the excess
 *    redistributed exactly like skimage's clip_histogram; its cumulative sum becomes the tile's
 *    grey-level map (int(cumsum * 16383 / voxels per tile)).
 * 4. Each voxel's value is the multilinear (trilinear) interpolation, in float32 and skimage's
 *    summation order, of the maps of the (up to) 8 tiles around it; the "interpolation cells" are
 *    offset by kernel // 2 from the tiles, and cells beyond the first/last tile centres reuse the
 *    border tile. The sum is truncated to an integer 0..16383 (the "raw" result).
 * 5. The raw result is stretched from its own minimum..maximum over the whole volume to [0, 1]
 *    (float64) and converted to the output type with img_as_ubyte/img_as_uint rounding (half to even).
 *
 * Steps 1 and 5 use statistics of the whole volume (input range, raw output range); a block-wise
 * run therefore takes them as parameters: reduce `valueRange` of the input first, run
 * `claheBlockRaw` on every block and reduce `claheRawRange`, then `claheFinish` every block (or run
 * `claheBlockRaw` twice and finish on the second pass instead of storing the raw blocks).
 *
 * Block-wise without seams: tiles are anchored to the whole volume's origin, so a block computes
 * the histograms of exactly the tiles the whole-volume run uses, from the block's context (and the
 * global reflection at the volume border); its output is then identical to the whole-volume output.
 * `claheReadBox` gives the voxels a write box needs; `claheContext` a uniform context:
 *   - any block, however placed: kernel + ceil(kernel / 2) - 1 before, kernel + kernel // 2 - 1 after;
 *   - blocks whose edges lie on the tile grid (multiples of the kernel from the volume origin, as a
 *     block grid anchored at the origin with block sizes that are multiples of the kernel gives):
 *     one kernel on each side (`{ blocksOnTileGrid: true }`);
 *   - blocks aligned to the interpolation cells (edges at n * kernel - kernel // 2) would need only
 *     (kernel + 1) // 2 before and kernel // 2 after (the ASEM pipeline's context), but a block grid
 *     anchored at the volume origin cannot be aligned that way.
 *
 * Deviation from skimage: none known on uint8/uint16 input (fixtures match voxel for voxel). Like
 * skimage, voxels near the volume border are equalised with histograms that contain reflected
 * copies of border voxels; that is reproduced, not corrected.
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
import { valueRange } from "./threshold.ts";

/** skimage's NR_OF_GRAY: CLAHE works on 14-bit grey levels. */
export const CLAHE_GREY_LEVELS = 16384;
const MAX_GREY = CLAHE_GREY_LEVELS - 1;

export interface ClaheParams {
  /** Contextual-region (tile) size in voxels per axis z,y,x (skimage's kernel_size). */
  readonly kernelSize: Coordinate;
  /** Normalised clip limit (skimage default 0.01, ASEM 0.02); 0 disables clipping (plain AHE). */
  readonly clipLimit: number;
  /** Histogram bins (skimage's nbins, default 256). */
  readonly nbins?: number;
}

export type ClaheInput = Uint8Array | Uint16Array;
export type ClaheOutput = "uint8" | "uint16" | "float32";

interface Checked {
  readonly k: Coordinate;
  readonly nbins: number;
  readonly clim: number;
  readonly tileVoxels: number;
}

function checkParams(params: ClaheParams): Checked {
  const k = params.kernelSize;
  for (const v of k) {
    if (!Number.isInteger(v) || v < 1) {
      throw invalidArgument(`CLAHE kernel size ${format(k)}: values must be integers >= 1 (voxels)`);
    }
  }
  const nbins = params.nbins ?? 256;
  if (!Number.isInteger(nbins) || nbins < 2 || nbins > CLAHE_GREY_LEVELS) {
    throw invalidArgument(`CLAHE nbins ${nbins}: must be an integer in 2..${CLAHE_GREY_LEVELS}`);
  }
  const clip = params.clipLimit;
  if (!Number.isFinite(clip) || clip < 0) {
    throw invalidArgument(`CLAHE clip limit ${clip}: must be a number >= 0 (e.g. 0.01; 0 disables clipping)`);
  }
  const tileVoxels = k[0] * k[1] * k[2];
  const clim = clip > 0 ? Math.max(1, Math.trunc(clip * tileVoxels)) : tileVoxels;
  return { k, nbins, clim, tileVoxels };
}

/** numpy's rint: round half to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.pad 'reflect' (period 2(n-1); a singleton axis repeats its one value). */
function padReflect(p: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = p % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/** Input value -> histogram bin, via skimage's img_as_uint + rescale to 0..16383 + binning. */
function binLut(input: ClaheInput, inputRange: readonly [number, number], nbins: number): Uint16Array {
  const u8 = input instanceof Uint8Array;
  const size = u8 ? 256 : 65536;
  const f = u8 ? 257 : 1;
  const [lo, hi] = inputRange;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
    throw invalidArgument(`CLAHE input range [${lo}, ${hi}]: must be finite with min <= max`);
  }
  const imin = lo * f;
  const imax = hi * f;
  const binSize = 1 + Math.floor(CLAHE_GREY_LEVELS / nbins);
  const lut = new Uint16Array(size);
  for (let v = 0; v < size; v++) {
    const u = v * f;
    let g: number;
    if (imin !== imax) {
      const c = Math.min(Math.max(u, imin), imax);
      g = rint(((c - imin) / (imax - imin)) * MAX_GREY + 0);
    } else {
      g = rint(Math.min(Math.max(u, 0), MAX_GREY));
    }
    lut[v] = Math.floor(g / binSize);
  }
  return lut;
}

/** skimage's clip_histogram, step by step (the redistribution order decides the exact maps). */
function clipHistogram(hist: Int32Array, clim: number): void {
  const n = hist.length;
  let excess = 0;
  for (let i = 0; i < n; i++) {
    if (hist[i]! > clim) {
      excess += hist[i]! - clim;
      hist[i] = clim;
    }
  }
  const binIncr = Math.floor(excess / n);
  const upper = clim - binIncr;
  for (let i = 0; i < n; i++) {
    if (hist[i]! < upper) {
      hist[i] = hist[i]! + binIncr;
      excess -= binIncr;
    }
  }
  for (let i = 0; i < n; i++) {
    const h = hist[i]!;
    if (h >= upper && h < clim) {
      excess += h - clim;
      hist[i] = clim;
    }
  }
  let under = 0;
  for (let i = 0; i < n; i++) if (hist[i]! < clim) under++;
  while (excess > 0) {
    const prev = excess;
    for (let index = 0; index < n; index++) {
      const step = Math.max(1, Math.floor(under / excess));
      let added = 0;
      for (let i = index; i < n; i += step) {
        const h = hist[i]!;
        if (h < clim) {
          hist[i] = h + 1;
          added++;
          if (h + 1 === clim) under--;
        }
      }
      excess -= added;
      if (excess <= 0) break;
    }
    if (prev === excess) break;
  }
}

/** skimage's map_histogram: cumulative sum scaled to 0..16383, truncated. */
function mapHistogram(hist: Int32Array, tileVoxels: number, out: Uint16Array, at: number): void {
  const scale = MAX_GREY / tileVoxels;
  let cum = 0;
  for (let i = 0; i < hist.length; i++) {
    cum += hist[i]!;
    const v = cum * scale + 0;
    out[at + i] = v > MAX_GREY ? MAX_GREY : Math.trunc(v);
  }
}

/** Per axis: the tiles (first, last) whose maps the voxels lo..hi-1 interpolate between. */
function tileSpan(lo: number, hi: number, k: number, n: number): [number, number] {
  const nt = Math.ceil(n / k);
  const h = Math.floor(k / 2);
  const first = Math.floor((lo + h) / k) - 1;
  const last = Math.floor((hi - 1 + h) / k);
  return [Math.min(Math.max(first, 0), nt - 1), Math.min(Math.max(last, 0), nt - 1)];
}

/**
 * The voxels (inside the volume) whose values the CLAHE of `write` depends on: the tiles around
 * it, including the voxels the volume-border reflection copies into the last tile.
 */
export function claheReadBox(write: VoxelBox, volumeShape: Coordinate, params: ClaheParams): VoxelBox {
  const { k } = checkParams(params);
  const begin = [0, 0, 0];
  const end = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const n = volumeShape[a]!;
    const [t0, t1] = tileSpan(write.begin[a]!, write.begin[a]! + write.shape[a]!, k[a]!, n);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let p = t0 * k[a]!; p < (t1 + 1) * k[a]!; p++) {
      const s = padReflect(p, n);
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    begin[a] = lo;
    end[a] = hi + 1;
  }
  return {
    begin: coord(begin[0]!, begin[1]!, begin[2]!),
    shape: coord(end[0]! - begin[0]!, end[1]! - begin[1]!, end[2]! - begin[2]!),
  };
}

/**
 * Context (voxels before, after) that lets a write block be computed exactly: any block, or, with
 * `blocksOnTileGrid`, blocks whose edges are multiples of the kernel (see the module comment).
 */
export function claheContext(
  params: ClaheParams,
  opts: { blocksOnTileGrid?: boolean } = {},
): { before: Coordinate; after: Coordinate } {
  const { k } = checkParams(params);
  if (opts.blocksOnTileGrid) return { before: k, after: k };
  const before = (v: number) => v + Math.ceil(v / 2) - 1;
  const after = (v: number) => v + Math.floor(v / 2) - 1;
  return {
    before: coord(before(k[0]), before(k[1]), before(k[2])),
    after: coord(after(k[0]), after(k[1]), after(k[2])),
  };
}

/**
 * CLAHE of a block up to and including the interpolation: the raw 0..16383 values of the write box
 * (skimage's `_clahe` result). `inputRange` is the minimum and maximum of the whole input volume.
 */
export function claheBlockRaw(
  input: ClaheInput,
  geometry: BlockGeometry,
  params: ClaheParams,
  inputRange: readonly [number, number],
): Uint16Array {
  checkGeometry(geometry, input.length, "CLAHE");
  const { k, nbins, clim, tileVoxels } = checkParams(params);
  const { volumeShape, read, write } = geometry;
  const out = new Uint16Array(voxelCount(write.shape));
  if (out.length === 0) return out;
  checkCovers(geometry, claheReadBox(write, volumeShape, params), "CLAHE");
  const lut = binLut(input, inputRange, nbins);

  // Tiles this block needs, and for each axis the local read index of every position they cover.
  const t0: number[] = [];
  const tn: number[] = [];
  const local: Int32Array[] = [];
  for (let a = 0; a < 3; a++) {
    const [first, last] = tileSpan(
      write.begin[a]!,
      write.begin[a]! + write.shape[a]!,
      k[a]!,
      volumeShape[a]!,
    );
    t0.push(first);
    tn.push(last - first + 1);
    const idx = new Int32Array((last - first + 1) * k[a]!);
    for (let q = 0; q < idx.length; q++)
      idx[q] = padReflect(first * k[a]! + q, volumeShape[a]!) - read.begin[a]!;
    local.push(idx);
  }
  const [kz, ky, kx] = k;
  const [, ry, rx] = read.shape;
  const [tnz, tny, tnx] = [tn[0]!, tn[1]!, tn[2]!];
  const [lz, ly, lx] = [local[0]!, local[1]!, local[2]!];

  // Grey-level map of every tile.
  const maps = new Uint16Array(tnz * tny * tnx * nbins);
  const hist = new Int32Array(nbins);
  for (let tz = 0; tz < tnz; tz++) {
    for (let ty = 0; ty < tny; ty++) {
      for (let tx = 0; tx < tnx; tx++) {
        hist.fill(0);
        const xs = tx * kx;
        const xStart = lx[xs]!;
        // Tiles inside the volume along x read contiguous rows; the border tile goes through the map.
        const contiguous = (t0[2]! + tx + 1) * kx <= volumeShape[2];
        for (let z = tz * kz; z < (tz + 1) * kz; z++) {
          const planeOff = lz[z]! * ry;
          for (let y = ty * ky; y < (ty + 1) * ky; y++) {
            const row = (planeOff + ly[y]!) * rx;
            if (contiguous) {
              const s = row + xStart;
              for (let x = 0; x < kx; x++) hist[lut[input[s + x]!]!]!++;
            } else {
              for (let x = xs; x < xs + kx; x++) hist[lut[input[row + lx[x]!]!]!]!++;
            }
          }
        }
        clipHistogram(hist, clim);
        mapHistogram(hist, tileVoxels, maps, ((tz * tny + ty) * tnx + tx) * nbins);
      }
    }
  }

  // Interpolation: per axis, the two tiles (relative to the first needed) and their weights.
  const axisTables = (a: number) => {
    const len = write.shape[a]!;
    const lo = new Int32Array(len);
    const hi = new Int32Array(len);
    const wLo = new Float64Array(len);
    const wHi = new Float64Array(len);
    const ka = k[a]!;
    const h = Math.floor(ka / 2);
    const nt = Math.ceil(volumeShape[a]! / ka);
    for (let q = 0; q < len; q++) {
      const p = write.begin[a]! + q + h;
      const b = Math.floor(p / ka);
      const i = p - b * ka;
      lo[q] = Math.min(Math.max(b - 1, 0), nt - 1) - t0[a]!;
      hi[q] = Math.min(Math.max(b, 0), nt - 1) - t0[a]!;
      wHi[q] = i / ka;
      wLo[q] = 1 - i / ka;
    }
    return { lo, hi, wLo, wHi };
  };
  const Z = axisTables(0);
  const Y = axisTables(1);
  const X = axisTables(2);
  const [wz, wy, wx] = write.shape;
  const xLo = new Int32Array(wx);
  const xHi = new Int32Array(wx);
  for (let x = 0; x < wx; x++) {
    xLo[x] = X.lo[x]! * nbins;
    xHi[x] = X.hi[x]! * nbins;
  }
  const fr = Math.fround;
  let o = 0;
  for (let z = 0; z < wz; z++) {
    const cz0 = Z.wLo[z]!;
    const cz1 = Z.wHi[z]!;
    const zr = (write.begin[0] + z - read.begin[0]) * ry;
    for (let y = 0; y < wy; y++) {
      const cy0 = Y.wLo[y]!;
      const cy1 = Y.wHi[y]!;
      // Map offsets of the four (z,y) tile rows: [z lo|hi][y lo|hi].
      const b00 = (Z.lo[z]! * tny + Y.lo[y]!) * tnx * nbins;
      const b01 = (Z.lo[z]! * tny + Y.hi[y]!) * tnx * nbins;
      const b10 = (Z.hi[z]! * tny + Y.lo[y]!) * tnx * nbins;
      const b11 = (Z.hi[z]! * tny + Y.hi[y]!) * tnx * nbins;
      const row = (zr + write.begin[1] + y - read.begin[1]) * rx + (write.begin[2] - read.begin[2]);
      for (let x = 0; x < wx; x++) {
        const bin = lut[input[row + x]!]!;
        const x0 = xLo[x]! + bin;
        const x1 = xHi[x]! + bin;
        const cx0 = X.wLo[x]!;
        const cx1 = X.wHi[x]!;
        // skimage sums the 8 corners in np.ndindex(2,2,2) order (z,y,x), each weight (cx*cy)*cz,
        // each product cast to float32 and added to a float32 accumulator.
        const c00 = cx0 * cy0;
        const c10 = cx1 * cy0;
        const c01 = cx0 * cy1;
        const c11 = cx1 * cy1;
        let acc = fr(maps[b00 + x0]! * (c00 * cz0));
        acc = fr(acc + fr(maps[b00 + x1]! * (c10 * cz0)));
        acc = fr(acc + fr(maps[b01 + x0]! * (c01 * cz0)));
        acc = fr(acc + fr(maps[b01 + x1]! * (c11 * cz0)));
        acc = fr(acc + fr(maps[b10 + x0]! * (c00 * cz1)));
        acc = fr(acc + fr(maps[b10 + x1]! * (c10 * cz1)));
        acc = fr(acc + fr(maps[b11 + x0]! * (c01 * cz1)));
        acc = fr(acc + fr(maps[b11 + x1]! * (c11 * cz1)));
        out[o++] = acc;
      }
    }
  }
  return out;
}

/** Minimum and maximum of raw CLAHE values, merged with `range` to accumulate over blocks. */
export function claheRawRange(raw: Uint16Array, range?: readonly [number, number]): [number, number] {
  let lo = range ? range[0] : MAX_GREY;
  let hi = range ? range[1] : 0;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * Stretches raw CLAHE values by the raw range of the whole volume to [0, 1] (skimage's final
 * rescale_intensity) and converts them like img_as_ubyte / img_as_uint (round half to even), or to
 * float32.
 */
export function claheFinish(
  raw: Uint16Array,
  rawRange: readonly [number, number],
  output: "uint8",
): Uint8Array;
export function claheFinish(
  raw: Uint16Array,
  rawRange: readonly [number, number],
  output: "uint16",
): Uint16Array;
export function claheFinish(
  raw: Uint16Array,
  rawRange: readonly [number, number],
  output: "float32",
): Float32Array;
export function claheFinish(
  raw: Uint16Array,
  rawRange: readonly [number, number],
  output: ClaheOutput,
): Uint8Array | Uint16Array | Float32Array;
export function claheFinish(
  raw: Uint16Array,
  rawRange: readonly [number, number],
  output: ClaheOutput,
): Uint8Array | Uint16Array | Float32Array {
  const [lo, hi] = rawRange;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi)) {
    throw invalidArgument(`CLAHE raw range [${lo}, ${hi}]: must be integers with min <= max`);
  }
  const unit = (v: number) => (lo !== hi ? (v - lo) / (hi - lo) : Math.min(Math.max(v, 0), 1));
  const n = raw.length;
  if (output === "float32") {
    const lutF = new Float32Array(CLAHE_GREY_LEVELS);
    for (let v = 0; v < CLAHE_GREY_LEVELS; v++) lutF[v] = unit(v);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lutF[raw[i]!]!;
    return out;
  }
  const max = output === "uint8" ? 255 : 65535;
  const lut = output === "uint8" ? new Uint8Array(CLAHE_GREY_LEVELS) : new Uint16Array(CLAHE_GREY_LEVELS);
  for (let v = 0; v < CLAHE_GREY_LEVELS; v++) lut[v] = Math.min(Math.max(rint(unit(v) * max), 0), max);
  const out = output === "uint8" ? new Uint8Array(n) : new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = lut[raw[i]!]!;
  return out;
}

/**
 * `skimage.exposure.equalize_adapthist(input, kernel_size, clip_limit, nbins)` of a whole volume,
 * converted to `output` (uint8 like img_as_ubyte by default).
 */
export function claheVolume(
  input: ClaheInput,
  shape: Coordinate,
  params: ClaheParams,
  output: "uint8",
): Uint8Array;
export function claheVolume(
  input: ClaheInput,
  shape: Coordinate,
  params: ClaheParams,
  output: "uint16",
): Uint16Array;
export function claheVolume(
  input: ClaheInput,
  shape: Coordinate,
  params: ClaheParams,
  output: "float32",
): Float32Array;
export function claheVolume(
  input: ClaheInput,
  shape: Coordinate,
  params: ClaheParams,
  output?: ClaheOutput,
): Uint8Array | Uint16Array | Float32Array;
export function claheVolume(
  input: ClaheInput,
  shape: Coordinate,
  params: ClaheParams,
  output: ClaheOutput = "uint8",
): Uint8Array | Uint16Array | Float32Array {
  checkLength(input.length, shape, "CLAHE input");
  if (input.length === 0) return claheFinish(new Uint16Array(0), [0, 0], output);
  const raw = claheBlockRaw(input, wholeVolume(shape), params, valueRange(input));
  return claheFinish(raw, claheRawRange(raw), output);
}
