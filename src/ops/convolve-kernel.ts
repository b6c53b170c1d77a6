/**
 * The multiply-add core of the separable filters (src/ops/gaussian.ts): symmetric 1D correlation of
 * float64 lines laid out in a flat buffer. It runs as a small WebAssembly SIMD function (two float64
 * lanes, no bounds checks), assembled below from a handful of instructions because V8 does not
 * vectorise JS loops and spends most of a JS loop's time on typed-array checks; a plain JS version
 * with identical arithmetic is the fallback where WebAssembly SIMD is unavailable.
 *
 * Both compute, for every output, exactly scipy's sum: centre * w[r], then + (lo + hi) * w[j] for
 * the tap pairs from the outermost (j = 0) inwards, in float64. SIMD lanes are independent outputs,
 * so the vector version's results are bit-identical to the scalar one.
 *
 * Layout (all offsets and strides in float64 elements of `f64`):
 *   for o in 0..nOuter-1, i in 0..inner-1 (inner a multiple of 4):
 *     lo = inOff + o * inStride + i;  tap t of that output is at lo + t * tapStride (t = 0..2r)
 *     f64[outOff + o * outStride + i] = f64[lo + r*tapStride] * W[r] + sum_j (f64[lo + j*ts] + f64[lo + (2r-j)*ts]) * W[j]
 *   with W = f64[wOff .. wOff + r] (W[0] the outermost weight, W[r] the centre).
 * Outer-axis passes put taps in different rows (tapStride = row length), the x pass puts them next
 * to each other (tapStride = 1).
 */

import {
  asm,
  assemble,
  compileOnce,
  I32,
  instantiate,
  op,
  reserveMemory,
  V128,
  type WasmMemory,
} from "./wasm-asm.ts";

export interface ConvolveKernel {
  /** "wasm-simd" or "js": which implementation runs. */
  readonly kind: "wasm-simd" | "js";
  /** The working buffer (valid until the next `reserve`). */
  f64: Float64Array;
  /** Makes the working buffer hold at least `doubles` float64 values (may replace `f64`). */
  reserve(doubles: number): void;
  convolve(
    inOff: number,
    inStride: number,
    outOff: number,
    outStride: number,
    nOuter: number,
    inner: number,
    tapStride: number,
    r: number,
    wOff: number,
  ): void;
}

/** The convolve function in WebAssembly (parameters as in ConvolveKernel.convolve, in bytes). */
function convolveModule(): Uint8Array {
  // params
  const inOff = 0;
  const inStride = 1;
  const outOff = 2;
  const outStride = 3;
  const nOuter = 4;
  const innerBytes = 5;
  const tapStride = 6;
  const r = 7;
  const wOff = 8;
  // i32 locals
  const o = 9;
  const b = 10;
  const j = 11;
  const lo = 12;
  const hi = 13;
  const inRow = 14;
  const outRow = 15;
  // v128 locals
  const acc0 = 16;
  const acc1 = 17;
  const w0 = 18;
  const wj = 19;
  const { get, set, tee, i32 } = op;
  // Each line is one statement of the loop nest (in the order of the layout comment above).
  const body = asm(
    // w0 = splat(W[r]); o = 0
    [get(wOff), get(r), i32(3), op.shl, op.add, op.f64Load(), op.f64x2Splat, set(w0), i32(0), set(o)],
    [op.block, op.loop, get(o), get(nOuter), op.geS, op.brIf(1)],
    [get(inOff), get(o), get(inStride), op.mul, op.add, set(inRow)],
    [get(outOff), get(o), get(outStride), op.mul, op.add, set(outRow), i32(0), set(b)],
    [op.block, op.loop, get(b), get(innerBytes), op.geS, op.brIf(1)],
    // lo = inRow + b; acc0 = load(lo + r * tapStride) * w0, acc1 likewise 16 bytes on
    [get(inRow), get(b), op.add, tee(lo), get(r), get(tapStride), op.mul, op.add, tee(hi)],
    [op.vLoad(0), get(w0), op.f64x2Mul, set(acc0), get(hi), op.vLoad(16), get(w0), op.f64x2Mul, set(acc1)],
    // hi = lo + 2r * tapStride; j = 0
    [get(lo), get(r), get(tapStride), op.mul, i32(1), op.shl, op.add, set(hi), i32(0), set(j)],
    [op.block, op.loop, get(j), get(r), op.geS, op.brIf(1)],
    [get(wOff), get(j), i32(3), op.shl, op.add, op.f64Load(), op.f64x2Splat, set(wj)],
    // acc += (load(lo) + load(hi)) * wj, for both vectors
    [
      get(acc0),
      get(lo),
      op.vLoad(0),
      get(hi),
      op.vLoad(0),
      op.f64x2Add,
      get(wj),
      op.f64x2Mul,
      op.f64x2Add,
      set(acc0),
    ],
    [
      get(acc1),
      get(lo),
      op.vLoad(16),
      get(hi),
      op.vLoad(16),
      op.f64x2Add,
      get(wj),
      op.f64x2Mul,
      op.f64x2Add,
      set(acc1),
    ],
    [get(lo), get(tapStride), op.add, set(lo), get(hi), get(tapStride), op.sub, set(hi)],
    [get(j), i32(1), op.add, set(j), op.br(0), op.end, op.end],
    // store both vectors; b += 32
    [get(outRow), get(b), op.add, tee(lo), get(acc0), op.vStore(0), get(lo), get(acc1), op.vStore(16)],
    [get(b), i32(32), op.add, set(b), op.br(0), op.end, op.end],
    [get(o), i32(1), op.add, set(o), op.br(0), op.end, op.end],
  );
  return assemble([
    {
      name: "convolve",
      params: Array.from({ length: 9 }, () => I32),
      locals: [
        [7, I32],
        [4, V128],
      ],
      body,
    },
  ]);
}

const convolveWasm = compileOnce(convolveModule);

class WasmKernel implements ConvolveKernel {
  readonly kind = "wasm-simd" as const;
  f64: Float64Array;
  private readonly memory: WasmMemory;
  private readonly fn: (...args: number[]) => void;

  constructor(module: object) {
    const { memory, exports } = instantiate(module, 16);
    this.memory = memory;
    this.fn = exports.convolve as (...args: number[]) => void;
    this.f64 = new Float64Array(memory.buffer);
  }

  reserve(doubles: number): void {
    reserveMemory(this.memory, doubles * 8);
    this.f64 = new Float64Array(this.memory.buffer);
  }

  convolve(
    inOff: number,
    inStride: number,
    outOff: number,
    outStride: number,
    nOuter: number,
    inner: number,
    tapStride: number,
    r: number,
    wOff: number,
  ): void {
    this.fn(
      inOff * 8,
      inStride * 8,
      outOff * 8,
      outStride * 8,
      nOuter,
      inner * 8,
      tapStride * 8,
      r,
      wOff * 8,
    );
  }
}

class JsKernel implements ConvolveKernel {
  readonly kind = "js" as const;
  f64 = new Float64Array(1 << 16);

  reserve(doubles: number): void {
    if (doubles > this.f64.length) {
      const next = new Float64Array(Math.max(doubles, this.f64.length * 2));
      next.set(this.f64);
      this.f64 = next;
    }
  }

  convolve(
    inOff: number,
    inStride: number,
    outOff: number,
    outStride: number,
    nOuter: number,
    inner: number,
    tapStride: number,
    r: number,
    wOff: number,
  ): void {
    const f = this.f64;
    const w0 = f[wOff + r]!;
    for (let o = 0; o < nOuter; o++) {
      const inRow = inOff + o * inStride;
      const outRow = outOff + o * outStride;
      for (let i = 0; i < inner; i += 2) {
        // Two outputs at a time in registers: no typed-array stores inside the tap loop.
        let lo = inRow + i;
        let hi = lo + 2 * r * tapStride;
        const c = lo + r * tapStride;
        let s0 = f[c]! * w0;
        let s1 = f[c + 1]! * w0;
        for (let j = 0; j < r; j++) {
          const wj = f[wOff + j]!;
          s0 += (f[lo]! + f[hi]!) * wj;
          s1 += (f[lo + 1]! + f[hi + 1]!) * wj;
          lo += tapStride;
          hi -= tapStride;
        }
        f[outRow + i] = s0;
        f[outRow + i + 1] = s1;
      }
    }
  }
}

/** A kernel with its own working buffer: WebAssembly SIMD where available, else JS (or on request). */
export function createConvolveKernel(prefer: "auto" | "js" = "auto"): ConvolveKernel {
  const module = prefer === "auto" ? convolveWasm() : null;
  return module ? new WasmKernel(module) : new JsKernel();
}
