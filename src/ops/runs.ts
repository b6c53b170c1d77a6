import type { Coordinate } from "../core/coordinate.ts";
import { growInt32 } from "./volume3d.ts";

/**
 * A binary volume as runs along x: row r = z*ny + y holds runs rowStart[r] .. rowStart[r+1]-1, run i
 * covering x in [x0[i], x1[i]). Blobby masks have a few runs per row, so labelling and the
 * size-based filters work on far fewer items than voxels, and runs come numbered in raster order.
 */
export interface RowRuns {
  readonly shape: Coordinate;
  readonly rowStart: Int32Array;
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly count: number;
}

/** Int32 view of a byte array for 4-voxel skipping, when it starts on a 4-byte boundary. */
function wordsOf(mask: Uint8Array): Int32Array | undefined {
  return (mask.byteOffset & 3) === 0
    ? new Int32Array(mask.buffer, mask.byteOffset, mask.length >>> 2)
    : undefined;
}

/** First index in [i, end) with m[index] !== 0, else end; skips four zero bytes at a time. */
function nextNonZero(m: Uint8Array, w: Int32Array | undefined, i: number, end: number): number {
  if (w !== undefined && end - i >= 8) {
    while ((i & 3) !== 0) {
      if (m[i] !== 0) return i;
      i++;
    }
    let k = i >>> 2;
    const kEnd = end >>> 2;
    while (k < kEnd && w[k] === 0) k++;
    i = k << 2;
  }
  while (i < end && m[i] === 0) i++;
  return i;
}

/** First index in [i, end) with m[index] === 0, else end; skips four non-zero bytes at a time. */
function nextZero(m: Uint8Array, w: Int32Array | undefined, i: number, end: number): number {
  if (w !== undefined && end - i >= 8) {
    while ((i & 3) !== 0) {
      if (m[i] === 0) return i;
      i++;
    }
    let k = i >>> 2;
    const kEnd = end >>> 2;
    // a word has a zero byte iff (v - 0x01010101) & ~v & 0x80808080 is non-zero
    while (k < kEnd) {
      const v = w[k]!;
      if (((v - 0x01010101) & ~v & 0x80808080) !== 0) break;
      k++;
    }
    i = k << 2;
  }
  while (i < end && m[i] !== 0) i++;
  return i;
}

/** Runs of the non-zero voxels of `mask` (or of its zero voxels when `ofZeros`). */
export function rowRuns(mask: Uint8Array, shape: Coordinate, ofZeros = false): RowRuns {
  const nx = shape[2];
  const rows = shape[0] * shape[1];
  const words = wordsOf(mask);
  const rowStart = new Int32Array(rows + 1);
  // size the run arrays from a sample of rows so they rarely need to grow
  const step = 16;
  let sampled = 0;
  for (let r = 0; r < rows; r += step) {
    const o = r * nx;
    const e = o + nx;
    let i = o;
    while (i < e) {
      const s = ofZeros ? nextZero(mask, words, i, e) : nextNonZero(mask, words, i, e);
      if (s === e) break;
      i = ofZeros ? nextNonZero(mask, words, s, e) : nextZero(mask, words, s, e);
      sampled++;
    }
  }
  let x0: Int32Array = new Int32Array(Math.ceil(sampled * step * 1.2) + 1024);
  let x1: Int32Array = new Int32Array(x0.length);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    rowStart[r] = count;
    // worst case a row holds ceil(nx/2) runs; grow once per row instead of per run
    if (count + ((nx + 1) >> 1) > x0.length) {
      x0 = growInt32(x0, count + ((nx + 1) >> 1));
      x1 = growInt32(x1, x0.length);
    }
    const o = r * nx;
    const e = o + nx;
    let i = o;
    while (i < e) {
      const s = ofZeros ? nextZero(mask, words, i, e) : nextNonZero(mask, words, i, e);
      if (s === e) break;
      i = ofZeros ? nextNonZero(mask, words, s, e) : nextZero(mask, words, s, e);
      x0[count] = s - o;
      x1[count] = i - o;
      count++;
    }
  }
  rowStart[rows] = count;
  return { shape, rowStart, x0, x1, count };
}

/** Typed arrays the run painters write. */
export type PaintTarget = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/** out[s..e) = v; a plain loop for short spans, where a native fill call costs more than it saves. */
export function fillSpan(out: PaintTarget, s: number, e: number, v: number): void {
  if (e - s > 24) out.fill(v, s, e);
  else for (let i = s; i < e; i++) out[i] = v;
}

/**
 * Writes a 0/1 mask from runs in one pass: run i becomes keep[label[i]] and the gaps between runs
 * become `gap` (0 when the runs are the foreground, 1 when they are the background).
 */
export function paintRunsMask(
  runs: RowRuns,
  runLabel: Int32Array,
  keep: Uint8Array,
  gap: 0 | 1,
  out: Uint8Array,
  at?: Placement,
  outIsZero = false,
): void {
  paintRunValues(runs, runLabel, keep, gap, out, at, outIsZero);
}

/** Where a block's voxels lie in a larger C-order volume: that volume's shape and the block's corner. */
export interface Placement {
  readonly shape: Coordinate;
  readonly begin: Coordinate;
}

/** Offset in the output of the start of block row r (z*ny + y), for a block placed `at` (or not). */
function rowOffset(runs: RowRuns, r: number, at: Placement | undefined): number {
  const [, ny, nx] = runs.shape;
  if (at === undefined) return r * nx;
  const z = Math.floor(r / ny);
  const y = r - z * ny;
  return ((at.begin[0] + z) * at.shape[1] + at.begin[1] + y) * at.shape[2] + at.begin[2];
}

/**
 * Writes a volume from runs in one pass, every voxel once: run i becomes value[runLabel[i]] and the
 * gaps between runs become `gap`. With `at`, `out` is a larger volume and the block goes where `at`
 * says (a block painted straight into a shared whole-volume output, no copy). `outIsZero` says the
 * output is freshly allocated (all zero): gaps of 0 are then left alone, so the pages of a fresh
 * output are only touched where there is something to write.
 */
export function paintRunValues(
  runs: RowRuns,
  runLabel: Int32Array,
  value: ArrayLike<number>,
  gap: number,
  out: PaintTarget,
  at?: Placement,
  outIsZero = false,
): void {
  const { rowStart, x0, x1 } = runs;
  const nx = runs.shape[2];
  const rows = rowStart.length - 1;
  if (outIsZero && gap === 0) {
    for (let r = 0; r < rows; r++) {
      const o = rowOffset(runs, r, at);
      for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
        const v = value[runLabel[i]!]!;
        if (v !== 0) fillSpan(out, o + x0[i]!, o + x1[i]!, v);
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = rowOffset(runs, r, at);
    let pos = o;
    for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
      const s = o + x0[i]!;
      const t = o + x1[i]!;
      if (s > pos) fillSpan(out, pos, s, gap);
      fillSpan(out, s, t, value[runLabel[i]!]!);
      pos = t;
    }
    if (pos < o + nx) fillSpan(out, pos, o + nx, gap);
  }
}

/**
 * As paintRunValues, but the voxels of `data` (same length as out) are kept where the runs say so:
 * with `onRuns`, run i keeps its data voxels if value[runLabel[i]] is non-zero (else 0) and the gaps
 * are 0 (removing objects of a label image); without, the gaps keep their data and run i becomes
 * value[runLabel[i]] (filling background pieces of a label image).
 */
export function paintRunsOverData(
  runs: RowRuns,
  runLabel: Int32Array,
  value: ArrayLike<number>,
  data: PaintTarget,
  onRuns: boolean,
  out: PaintTarget,
): void {
  const { rowStart, x0, x1 } = runs;
  const nx = runs.shape[2];
  const rows = rowStart.length - 1;
  for (let r = 0; r < rows; r++) {
    const o = r * nx;
    let pos = o;
    for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
      const s = o + x0[i]!;
      const t = o + x1[i]!;
      if (onRuns) {
        fillSpan(out, pos, s, 0);
        if (value[runLabel[i]!] !== 0) copySpan(data, out, s, t);
        else fillSpan(out, s, t, 0);
      } else {
        copySpan(data, out, pos, s);
        fillSpan(out, s, t, value[runLabel[i]!]!);
      }
      pos = t;
    }
    if (onRuns) fillSpan(out, pos, o + nx, 0);
    else copySpan(data, out, pos, o + nx);
  }
}

function copySpan(src: PaintTarget, dst: PaintTarget, s: number, e: number): void {
  if (e - s > 24 && src.constructor === dst.constructor) dst.set(src.subarray(s, e) as Uint8Array, s);
  else for (let i = s; i < e; i++) dst[i] = src[i]!;
}
