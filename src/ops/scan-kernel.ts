/**
 * The one-pass scans under the thresholds (src/ops/threshold.ts): `v >= t` on uint8, min/max (and a
 * NaN count) of float32, and the float32 histogram with numpy's bin rule. Each is a memory-bound
 * loop that numpy runs as compiled SIMD; in V8 every element costs a checked typed-array load (and
 * store), which left these 2-3x behind numpy. Here they run in WebAssembly (src/ops/wasm-asm.ts):
 * the input streams through a 64 KiB buffer in the module's memory (one native copy per chunk, which
 * stays in cache), SIMD where lanes are independent (threshold, min/max), a scalar loop with four
 * interleaved sub-histograms for the histogram (runs of equal bins would otherwise wait on the
 * previous increment).
 *
 * The JS versions below compute the same thing the same way (the min/max in the same four lanes,
 * combined in the same order, so even the sign of a zero minimum agrees); they run for short arrays,
 * for the last few elements of each scan, and where WebAssembly SIMD is unavailable.
 */
import {
  asm,
  assemble,
  compileOnce,
  F32,
  F64,
  I32,
  instantiate,
  op,
  reserveMemory,
  V128,
  type WasmFunction,
  type WasmMemory,
} from "./wasm-asm.ts";

export type ScanKernelChoice = "auto" | "js";

/** Arrays shorter than this are scanned in JS: setting up the copies would cost more than they save. */
const WASM_MIN_LENGTH = 4096;
/** Bytes of the streaming buffer (a multiple of 16). */
const CHUNK = 65536;
/** Layout of the module's memory: min/max accumulators, the streaming buffer, then the histogram tables. */
const ACC_AT = 0;
const CHUNK_AT = 64;
const TABLE_AT = CHUNK_AT + CHUNK;
/** Interleaved sub-histograms of the float histogram (element i counts into table i % 4). */
const SUB_TABLES = 4;

function scanModule(): Uint8Array {
  const { get, set, tee, i32 } = op;
  // thresholdU8(ptr, bytes, t): in place, bytes % 16 == 0: p[i] = p[i] >= t ? 1 : 0.
  const threshold = ((): WasmFunction => {
    const [ptr, bytes, t, end, tv, one] = [0, 1, 2, 3, 4, 5];
    return {
      name: "thresholdU8",
      params: [I32, I32, I32],
      locals: [
        [1, I32],
        [2, V128],
      ],
      body: asm(
        [get(t), op.i8x16Splat, set(tv), i32(1), op.i8x16Splat, set(one)],
        [get(ptr), get(bytes), op.add, set(end)],
        [op.block, op.loop, get(ptr), get(end), op.geU, op.brIf(1)],
        [get(ptr), get(ptr), op.vLoad(), get(tv), op.i8x16GeU, get(one), op.vAnd, op.vStore()],
        [get(ptr), i32(16), op.add, set(ptr), op.br(0), op.end, op.end],
      ),
    };
  })();

  // minMaxF32(ptr, bytes), bytes % 16 == 0: per lane lo = pmin(lo, v), hi = pmax(hi, v),
  // nan -= (v != v); accumulators at ACC_AT (lo, hi as f32x4, nan as i32x4).
  const minMax = ((): WasmFunction => {
    const [ptr, bytes, end, v, lo, hi, nan] = [0, 1, 2, 3, 4, 5, 6];
    return {
      name: "minMaxF32",
      params: [I32, I32],
      locals: [
        [1, I32],
        [4, V128],
      ],
      body: asm(
        [i32(ACC_AT), op.vLoad(0), set(lo), i32(ACC_AT), op.vLoad(16), set(hi)],
        [i32(ACC_AT), op.vLoad(32), set(nan), get(ptr), get(bytes), op.add, set(end)],
        [op.block, op.loop, get(ptr), get(end), op.geU, op.brIf(1)],
        [get(ptr), op.vLoad(), set(v), get(lo), get(v), op.f32x4Pmin, set(lo)],
        [get(hi), get(v), op.f32x4Pmax, set(hi)],
        [get(nan), get(v), get(v), op.f32x4Ne, op.i32x4Sub, set(nan)],
        [get(ptr), i32(16), op.add, set(ptr), op.br(0), op.end, op.end],
        [i32(ACC_AT), get(lo), op.vStore(0), i32(ACC_AT), get(hi), op.vStore(16)],
        [i32(ACC_AT), get(nan), op.vStore(32)],
      ),
    };
  })();

  // histogramF32(ptr, bytes, counts, edges, nb, first, last, norm, margin, upper), bytes % 16 == 0:
  // histogramFloat32Js's loop, four elements per turn (element k of a turn counts into sub-table k).
  // The bin estimates, their fractions and the range tests run in f32x4 lanes; a turn whose four
  // values are all in range and away from bin boundaries (almost all) just increments four counts.
  const histogram = ((): WasmFunction => {
    const [ptr, bytes, counts, edges, nb, first, last, norm, margin, upper] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const [end, b, at, c1, c2, c3] = [10, 11, 12, 13, 14, 15];
    const [v, f, bi, frac, inRange, near, firstV, lastV, normV, marginV, upperV, topV] = [
      16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    ];
    const vf = 28;
    const table = [counts, c1, c2, c3];
    // sub-table k: counts[b]++
    const increment = (k: number): number[][][] => [
      [get(table[k]!), get(b), i32(2), op.shl, op.add, tee(at), get(at), op.i32Load(), i32(1), op.add],
      [op.i32Store()],
    ];
    const fast = (k: number): number[][][] => [[get(bi), op.i32x4Lane(k), set(b)], ...increment(k)];
    const slow = (k: number): number[][][] => [
      [op.block, get(inRange), op.i32x4Lane(k), op.eqz, op.brIf(0), get(bi), op.i32x4Lane(k), set(b)],
      [get(near), op.i32x4Lane(k), op.if],
      [get(v), op.f32x4Lane(k), op.f64PromoteF32, set(vf)],
      [get(edges), get(b), i32(3), op.shl, op.add, tee(at), op.f64Load(), get(vf), op.f64Gt, op.if],
      [get(b), i32(1), op.sub, set(b), op.else],
      [get(b), get(nb), i32(1), op.sub, op.ltS, get(vf), get(at), op.f64Load(8), op.f64Ge, op.and, op.if],
      [get(b), i32(1), op.add, set(b), op.end, op.end, op.end],
      ...increment(k),
      [op.end],
    ];
    return {
      name: "histogramF32",
      params: [I32, I32, I32, I32, I32, F32, F32, F32, F32, F32],
      locals: [
        [6, I32],
        [12, V128],
        [1, F64],
      ],
      body: asm(
        [get(ptr), get(bytes), op.add, set(end)],
        [get(first), op.f32x4Splat, set(firstV), get(last), op.f32x4Splat, set(lastV)],
        [get(norm), op.f32x4Splat, set(normV), get(margin), op.f32x4Splat, set(marginV)],
        [get(upper), op.f32x4Splat, set(upperV), get(nb), i32(1), op.sub, op.i32x4Splat, set(topV)],
        [get(nb), i32(2), op.shl, tee(at), get(counts), op.add, tee(c1), get(at), op.add, tee(c2)],
        [get(at), op.add, set(c3)],
        [op.block, op.loop, get(ptr), get(end), op.geU, op.brIf(1)],
        [get(ptr), op.vLoad(), tee(v), get(firstV), op.f32x4Ge, get(v), get(lastV), op.f32x4Le, op.vAnd],
        [set(inRange), get(v), get(firstV), op.f32x4Sub, get(normV), op.f32x4Mul, tee(f)],
        [op.i32x4FromF32x4, get(topV), op.i32x4MinS, tee(bi), op.f32x4FromI32x4, set(frac)],
        [get(f), get(frac), op.f32x4Sub, tee(frac), get(marginV), op.f32x4Lt],
        [get(frac), get(upperV), op.f32x4Gt, op.vOr, tee(near), get(inRange), op.vNot, op.vOr],
        [op.vAnyTrue, op.if],
        ...slow(0),
        ...slow(1),
        ...slow(2),
        ...slow(3),
        [op.else],
        ...fast(0),
        ...fast(1),
        ...fast(2),
        ...fast(3),
        [op.end],
        [get(ptr), i32(16), op.add, set(ptr), op.br(0), op.end, op.end],
      ),
    };
  })();
  return assemble([threshold, minMax, histogram]);
}

const scanWasm = compileOnce(scanModule);

interface ScanInstance {
  readonly memory: WasmMemory;
  readonly thresholdU8: (ptr: number, bytes: number, t: number) => void;
  readonly minMaxF32: (ptr: number, bytes: number) => void;
  readonly histogramF32: (...args: number[]) => void;
}

// One instance per thread, created on first use: the kernels keep no state between calls besides
// the memory they overwrite at the start of each scan.
let instance: ScanInstance | null | undefined;

function scanInstance(choice: ScanKernelChoice, length: number): ScanInstance | null {
  if (choice === "js" || length < WASM_MIN_LENGTH) return null;
  if (instance === undefined) {
    const module = scanWasm();
    if (module === null) instance = null;
    else {
      const { memory, exports } = instantiate(module, Math.ceil((TABLE_AT + 8192) / 65536));
      instance = {
        memory,
        thresholdU8: exports.thresholdU8 as ScanInstance["thresholdU8"],
        minMaxF32: exports.minMaxF32 as ScanInstance["minMaxF32"],
        histogramF32: exports.histogramF32 as ScanInstance["histogramF32"],
      };
    }
  }
  return instance;
}

/** Which implementation a scan of `length` elements uses ("wasm-simd" or "js"). */
export function scanKernelKind(
  choice: ScanKernelChoice = "auto",
  length = WASM_MIN_LENGTH,
): "wasm-simd" | "js" {
  return scanInstance(choice, length) ? "wasm-simd" : "js";
}

// ---------------------------------------------------------------------------------------------
// v >= t on uint8

/** out[i] = input[i] >= t ? 1 : 0 for an integer t in 1..255 (`out` may be `input`). */
export function thresholdAtLeastU8(
  input: Uint8Array,
  t: number,
  out: Uint8Array,
  choice: ScanKernelChoice = "auto",
): void {
  const n = input.length;
  const w = scanInstance(choice, n);
  let done = 0;
  if (w) {
    const whole = n - (n % 16);
    const mem = new Uint8Array(w.memory.buffer);
    for (let s = 0; s < whole; s += CHUNK) {
      const len = Math.min(CHUNK, whole - s);
      mem.set(input.subarray(s, s + len), CHUNK_AT);
      w.thresholdU8(CHUNK_AT, len, t);
      out.set(mem.subarray(CHUNK_AT, CHUNK_AT + len), s);
    }
    done = whole;
  }
  thresholdAtLeastU8Js(input, t, out, done);
}

/**
 * The JS version from element `start` on: four voxels per 32-bit word where the arrays are aligned;
 * per byte, bit 7 of ((x & 0x7f) | 0x80) - (t & 0x7f) says whether the low seven bits reach t's (no
 * borrow crosses bytes), combined with the high bits of x and t.
 */
function thresholdAtLeastU8Js(input: Uint8Array, t: number, out: Uint8Array, start: number): void {
  const n = input.length;
  let i = start;
  if ((input.byteOffset + i) % 4 === 0 && (out.byteOffset + i) % 4 === 0 && n - i >= 16) {
    const words = (n - i) >> 2;
    // Int32 views keep V8 on integer arithmetic (uint32 values above 2^31 would become doubles).
    const src = new Int32Array(input.buffer, input.byteOffset + i, words);
    const dst = new Int32Array(out.buffer, out.byteOffset + i, words);
    const tLow = ((t & 0x7f) * 0x01010101) | 0;
    const tHigh = t >= 128;
    for (let k = 0; k < words; k++) {
      const x = src[k]!;
      const high = x & 0x80808080;
      const lowGe = (((x & 0x7f7f7f7f) | 0x80808080) - tLow) & 0x80808080;
      dst[k] = (tHigh ? high & lowGe : high | lowGe) >>> 7;
    }
    i += words << 2;
  }
  for (; i < n; i++) out[i] = input[i]! >= t ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// min / max / NaN count of float32

export interface FloatScan {
  /** Smallest and largest non-NaN value (Infinity / -Infinity when there is none). */
  readonly min: number;
  readonly max: number;
  readonly nanCount: number;
}

/**
 * Min, max and NaN count of a float32 array. Element i goes to lane i % 4 (lo = v < lo ? v : lo,
 * hi = hi < v ? v : hi: NaN never wins); the lanes are combined 0, 1, 2, 3 the same way.
 */
export function scanFloat32(input: Float32Array, choice: ScanKernelChoice = "auto"): FloatScan {
  const n = input.length;
  const lanes = new Float64Array(8);
  lanes.fill(Number.POSITIVE_INFINITY, 0, 4);
  lanes.fill(Number.NEGATIVE_INFINITY, 4, 8);
  let nanCount = 0;
  let done = 0;
  const w = scanInstance(choice, n);
  if (w) {
    const acc = new Float32Array(w.memory.buffer, ACC_AT, 8);
    acc.fill(Number.POSITIVE_INFINITY, 0, 4);
    acc.fill(Number.NEGATIVE_INFINITY, 4, 8);
    new Int32Array(w.memory.buffer, ACC_AT + 32, 4).fill(0);
    const mem = new Float32Array(w.memory.buffer);
    const whole = n - (n % 4);
    const per = CHUNK / 4;
    for (let s = 0; s < whole; s += per) {
      const len = Math.min(per, whole - s);
      mem.set(input.subarray(s, s + len), CHUNK_AT / 4);
      w.minMaxF32(CHUNK_AT, len * 4);
    }
    lanes.set(acc);
    const nan = new Int32Array(w.memory.buffer, ACC_AT + 32, 4);
    nanCount = nan[0]! + nan[1]! + nan[2]! + nan[3]!;
    done = whole;
  }
  nanCount += scanFloat32Js(input, done, lanes);
  let lo = lanes[0]!;
  let hi = lanes[4]!;
  for (let k = 1; k < 4; k++) {
    const l = lanes[k]!;
    const h = lanes[4 + k]!;
    if (l < lo) lo = l;
    if (hi < h) hi = h;
  }
  return { min: lo, max: hi, nanCount };
}

/** Lanes (lo0..lo3, hi0..hi3) updated with elements start.. (start % 4 == 0); returns the NaNs seen. */
function scanFloat32Js(input: Float32Array, start: number, lanes: Float64Array): number {
  let l0 = lanes[0]!;
  let l1 = lanes[1]!;
  let l2 = lanes[2]!;
  let l3 = lanes[3]!;
  let h0 = lanes[4]!;
  let h1 = lanes[5]!;
  let h2 = lanes[6]!;
  let h3 = lanes[7]!;
  let nan = 0;
  const n = input.length;
  let i = start;
  for (; i + 3 < n; i += 4) {
    const a = input[i]!;
    const b = input[i + 1]!;
    const c = input[i + 2]!;
    const d = input[i + 3]!;
    if (a < l0) l0 = a;
    if (h0 < a) h0 = a;
    if (b < l1) l1 = b;
    if (h1 < b) h1 = b;
    if (c < l2) l2 = c;
    if (h2 < c) h2 = c;
    if (d < l3) l3 = d;
    if (h3 < d) h3 = d;
    if (Number.isNaN(a + b + c + d)) {
      nan += +Number.isNaN(a) + +Number.isNaN(b) + +Number.isNaN(c) + +Number.isNaN(d);
    }
  }
  lanes.set([l0, l1, l2, l3, h0, h1, h2, h3]);
  for (let k = 0; i < n; i++, k++) {
    const v = input[i]!;
    if (v < lanes[k]!) lanes[k] = v;
    if (lanes[4 + k]! < v) lanes[4 + k] = v;
    if (Number.isNaN(v)) nan++;
  }
  return nan;
}

// ---------------------------------------------------------------------------------------------
// float32 histogram

/**
 * Adds `input` to `counts` (float64, one per bin) over the float32 `edges` (as float64), numpy's
 * rule: bin i holds edges[i] <= v < edges[i+1], the last bin also its right edge; values outside
 * and NaN are ignored.
 *
 * The bin of v is estimated in float32 as trunc((v - first) * norm); where that estimate's fraction
 * lies within `margin` of a whole number, numpy's one-step correction against the edges decides.
 * The estimate is off by at most ~3 nb 2^-24 bins plus the edges' own float32 rounding
 * (max(|first|, |last|) norm 2^-24): the margin is 8x that, so every value that could be misplaced
 * is corrected, and the result is numpy's.
 */
export function histogramFloat32(
  input: Float32Array,
  edges: Float64Array,
  counts: Float64Array,
  choice: ScanKernelChoice = "auto",
): void {
  const nb = edges.length - 1;
  const first = edges[0]!;
  const last = edges[nb]!;
  const p: HistogramParams = {
    first: Math.fround(first),
    last: Math.fround(last),
    norm: Math.fround(nb / (last - first)),
    margin: Math.fround(
      (Math.max(Math.abs(first), Math.abs(last)) * (nb / (last - first)) + 3 * nb) * 2 ** -21,
    ),
    upper: 0,
  };
  p.upper = Math.fround(1 - p.margin);
  const tmp = new Uint32Array(nb);
  const n = input.length;
  let done = 0;
  const w = scanInstance(choice, n);
  if (w) {
    const edgesAt = TABLE_AT;
    const countsAt = edgesAt + 8 * (nb + 1);
    reserveMemory(w.memory, countsAt + 4 * SUB_TABLES * nb); // views are taken after it
    new Float64Array(w.memory.buffer, edgesAt, nb + 1).set(edges);
    const sub = new Uint32Array(w.memory.buffer, countsAt, SUB_TABLES * nb);
    sub.fill(0);
    const mem = new Float32Array(w.memory.buffer);
    const whole = n - (n % 4);
    const per = CHUNK / 4;
    for (let s = 0; s < whole; s += per) {
      const len = Math.min(per, whole - s);
      mem.set(input.subarray(s, s + len), CHUNK_AT / 4);
      w.histogramF32(CHUNK_AT, len * 4, countsAt, edgesAt, nb, p.first, p.last, p.norm, p.margin, p.upper);
    }
    for (let k = 0; k < SUB_TABLES; k++) {
      for (let b = 0; b < nb; b++) tmp[b] = tmp[b]! + sub[k * nb + b]!;
    }
    done = whole;
  }
  histogramFloat32Js(input, done, edges, p, tmp);
  for (let b = 0; b < nb; b++) counts[b] = counts[b]! + tmp[b]!;
}

interface HistogramParams {
  readonly first: number;
  readonly last: number;
  readonly norm: number;
  readonly margin: number;
  upper: number;
}

/** The histogram loop in JS (float32 arithmetic through Math.fround, as the WebAssembly lanes). */
function histogramFloat32Js(
  input: Float32Array,
  start: number,
  e: Float64Array,
  p: HistogramParams,
  tmp: Uint32Array,
): void {
  const nb = e.length - 1;
  const { first, last, norm, margin, upper } = p;
  const fround = Math.fround;
  const n = input.length;
  for (let i = start; i < n; i++) {
    const v = input[i]!;
    if (!(v >= first && v <= last)) continue;
    const f = fround(fround(v - first) * norm);
    let b = f | 0;
    if (b > nb - 1) b = nb - 1;
    const frac = fround(f - b);
    if (frac < margin || frac > upper) {
      // numpy's one-step correction of the estimate against the float32 edges.
      if (v < e[b]!) b--;
      else if (b < nb - 1 && v >= e[b + 1]!) b++;
    }
    tmp[b]!++;
  }
}
