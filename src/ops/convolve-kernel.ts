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

// --- a minimal WebAssembly encoder ---------------------------------------------------------------

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/** Concatenates lines of instructions (each a list of encoded instructions). */
const asm = (...lines: number[][][]): number[] => lines.flat(2);
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  shl: [0x74],
  geS: [0x4e],
  f64Load: [0x2b, 3, 0],
  /** v128.load / v128.store with a constant byte offset. */
  vLoad: (offset: number) => [0xfd, 0x00, 3, ...uleb(offset)],
  vStore: (offset: number) => [0xfd, 0x0b, 3, ...uleb(offset)],
  splat: [0xfd, 0x14],
  fAdd: [0xfd, 0xf0, 0x01],
  fMul: [0xfd, 0xf2, 0x01],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
};

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
    [get(wOff), get(r), i32(3), op.shl, op.add, op.f64Load, op.splat, set(w0), i32(0), set(o)],
    [op.block, op.loop, get(o), get(nOuter), op.geS, op.brIf(1)],
    [get(inOff), get(o), get(inStride), op.mul, op.add, set(inRow)],
    [get(outOff), get(o), get(outStride), op.mul, op.add, set(outRow), i32(0), set(b)],
    [op.block, op.loop, get(b), get(innerBytes), op.geS, op.brIf(1)],
    // lo = inRow + b; acc0 = load(lo + r * tapStride) * w0, acc1 likewise 16 bytes on
    [get(inRow), get(b), op.add, tee(lo), get(r), get(tapStride), op.mul, op.add, tee(hi)],
    [op.vLoad(0), get(w0), op.fMul, set(acc0), get(hi), op.vLoad(16), get(w0), op.fMul, set(acc1)],
    // hi = lo + 2r * tapStride; j = 0
    [get(lo), get(r), get(tapStride), op.mul, i32(1), op.shl, op.add, set(hi), i32(0), set(j)],
    [op.block, op.loop, get(j), get(r), op.geS, op.brIf(1)],
    [get(wOff), get(j), i32(3), op.shl, op.add, op.f64Load, op.splat, set(wj)],
    // acc += (load(lo) + load(hi)) * wj, for both vectors
    [get(acc0), get(lo), op.vLoad(0), get(hi), op.vLoad(0), op.fAdd, get(wj), op.fMul, op.fAdd, set(acc0)],
    [get(acc1), get(lo), op.vLoad(16), get(hi), op.vLoad(16), op.fAdd, get(wj), op.fMul, op.fAdd, set(acc1)],
    [get(lo), get(tapStride), op.add, set(lo), get(hi), get(tapStride), op.sub, set(hi)],
    [get(j), i32(1), op.add, set(j), op.br(0), op.end, op.end],
    // store both vectors; b += 32
    [get(outRow), get(b), op.add, tee(lo), get(acc0), op.vStore(0), get(lo), get(acc1), op.vStore(16)],
    [get(b), i32(32), op.add, set(b), op.br(0), op.end, op.end],
    [get(o), i32(1), op.add, set(o), op.br(0), op.end, op.end],
    [op.end],
  );
  const locals = vec([
    [...uleb(7), 0x7f],
    [...uleb(4), 0x7b],
  ]);
  const fn = [...locals, ...body];
  const i32Param = [0x7f];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, ...vec(Array.from({ length: 9 }, () => i32Param)), 0x00]])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0x00]])),
    ...section(7, vec([[...name("convolve"), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(fn.length), ...fn]])),
  ]);
}

/** The part of the WebAssembly JS API used here (the DOM typings are not part of this build). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

function wasmModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasmApi ? new wasmApi.Module(convolveModule()) : null;
    } catch {
      // No WebAssembly SIMD here (old runtime or browser): use the JS kernel.
      compiled = null;
    }
  }
  return compiled;
}

const PAGE = 65536;

class WasmKernel implements ConvolveKernel {
  readonly kind = "wasm-simd" as const;
  f64: Float64Array;
  private readonly memory: WasmMemory;
  private readonly fn: (...args: number[]) => void;

  constructor(api: WasmApi, module: object) {
    this.memory = new api.Memory({ initial: 16 });
    const instance = new api.Instance(module, { env: { memory: this.memory } });
    this.fn = instance.exports.convolve as (...args: number[]) => void;
    this.f64 = new Float64Array(this.memory.buffer);
  }

  reserve(doubles: number): void {
    const bytes = doubles * 8;
    if (bytes > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE));
    }
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
  const module = prefer === "auto" ? wasmModule() : null;
  return module && wasmApi ? new WasmKernel(wasmApi, module) : new JsKernel();
}
