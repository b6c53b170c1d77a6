/**
 * A minimal WebAssembly assembler for the small SIMD kernels of src/ops (convolve-kernel.ts,
 * scan-kernel.ts). V8 does not vectorise JS loops and spends much of a typed-array loop on checks, so
 * the few loops that bound an algorithm's speed are written here instruction by instruction and
 * assembled at start-up: no build step, no binary blobs in the repository. Every module imports its
 * memory as `env.memory` and exports its functions by name; each kernel keeps a plain JS version
 * with identical results for runtimes without WebAssembly SIMD.
 */

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
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
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

/** Concatenates lines of instructions (each a list of encoded instructions). */
export const asm = (...lines: number[][][]): number[] => lines.flat(2);

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** A memory access: opcode, alignment (log2 bytes), constant byte offset. */
const mem =
  (code: number[], align: number) =>
  (offset = 0) => [...code, align, ...uleb(offset)];

/** Encoded instructions, named after the WebAssembly text format. */
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  select: [0x1b],
  // i32
  eqz: [0x45],
  eq: [0x46],
  ltS: [0x48],
  ltU: [0x49],
  geS: [0x4e],
  geU: [0x4f],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  or: [0x72],
  shl: [0x74],
  i32Load: mem([0x28], 2),
  i32Store: mem([0x36], 2),
  f32Load: mem([0x2a], 2),
  f64Load: mem([0x2b], 3),
  // f64
  f64Lt: [0x63],
  f64Gt: [0x64],
  f64Le: [0x65],
  f64Ge: [0x66],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  /** i32.trunc_sat_f64_s: toward zero, saturating (never traps). */
  i32TruncSatF64: [0xfc, 0x02],
  f64FromI32: [0xb7],
  f64PromoteF32: [0xbb],
  // v128 (SIMD)
  vLoad: mem([0xfd, 0x00], 4),
  vStore: mem([0xfd, 0x0b], 4),
  vNot: [0xfd, 0x4d],
  vAnd: [0xfd, 0x4e],
  vOr: [0xfd, 0x50],
  vAnyTrue: [0xfd, 0x53],
  i8x16Splat: [0xfd, 0x0f],
  i8x16GeU: [0xfd, 0x2c],
  i32x4Splat: [0xfd, 0x11],
  i32x4Lane: (lane: number) => [0xfd, 0x1b, lane],
  i32x4Sub: [0xfd, 0xb1, 0x01],
  i32x4MinS: [0xfd, 0xb6, 0x01],
  /** i32x4.trunc_sat_f32x4_s */
  i32x4FromF32x4: [0xfd, 0xf8, 0x01],
  f32x4Splat: [0xfd, 0x13],
  f32x4Lane: (lane: number) => [0xfd, 0x1f, lane],
  f32x4Ne: [0xfd, 0x42],
  f32x4Lt: [0xfd, 0x43],
  f32x4Gt: [0xfd, 0x44],
  f32x4Le: [0xfd, 0x45],
  f32x4Ge: [0xfd, 0x46],
  f32x4Sub: [0xfd, 0xe5, 0x01],
  f32x4Mul: [0xfd, 0xe6, 0x01],
  f32x4Pmin: [0xfd, 0xea, 0x01],
  f32x4Pmax: [0xfd, 0xeb, 0x01],
  /** f32x4.convert_i32x4_s */
  f32x4FromI32x4: [0xfd, 0xfa, 0x01],
  f64x2Splat: [0xfd, 0x14],
  f64x2Add: [0xfd, 0xf0, 0x01],
  f64x2Mul: [0xfd, 0xf2, 0x01],
};

/** One exported function: its signature, extra locals (count, type) and body (without the final `end`). */
export interface WasmFunction {
  readonly name: string;
  readonly params: readonly ValType[];
  readonly locals: readonly (readonly [number, ValType])[];
  readonly body: readonly number[];
}

/** A module of `functions` (no results) over an imported memory `env.memory`. */
export function assemble(functions: readonly WasmFunction[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]);
  const codes = functions.map((f) => {
    const code = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}

/** The part of the WebAssembly JS API used here (the DOM typings are not part of this build). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const WASM_PAGE = 65536;

/**
 * Compiles a module once; null where WebAssembly (or its SIMD) is unavailable, so callers fall back
 * to their JS kernels.
 */
export function compileOnce(build: () => Uint8Array): () => object | null {
  let compiled: object | null | undefined;
  return () => {
    if (compiled === undefined) {
      try {
        compiled = wasmApi ? new wasmApi.Module(build()) : null;
      } catch {
        compiled = null;
      }
    }
    return compiled;
  };
}

/** A fresh instance of a compiled module with its own memory of `pages` 64 KiB pages. */
export function instantiate(
  module: object,
  pages: number,
): { memory: WasmMemory; exports: Record<string, unknown> } {
  if (!wasmApi) throw new Error("WebAssembly is not available");
  const memory = new wasmApi.Memory({ initial: pages });
  const instance = new wasmApi.Instance(module, { env: { memory } });
  return { memory, exports: instance.exports };
}

/** Grows `memory` to hold at least `bytes`; returns whether its buffer was replaced. */
export function reserveMemory(memory: WasmMemory, bytes: number): boolean {
  if (bytes <= memory.buffer.byteLength) return false;
  memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / WASM_PAGE));
  return true;
}
