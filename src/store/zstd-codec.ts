import Zstd from "numcodecs/zstd";
import * as zarr from "zarrita";

/*
 * numcodecs' zstd is libzstd compiled to WebAssembly behind an embind wrapper. The compression itself
 * runs at native speed (measured ~370 MB/s per thread on FIB-SEM chunks, the same as the zstd CLI),
 * but embind hands the input to C++ as a std::string, which its JS glue fills with a byte-by-byte
 * loop: ~10 ms of every ~15 ms spent encoding a 2 MiB chunk. We cannot change the package, so when
 * the glue instantiates the module we keep a handle on the instance and its registered functions, and
 * call them with the input copied in by one memcpy (`Uint8Array.set`). Same binary, same parameters,
 * same output bytes (checked by a self-test before the direct path is used); if anything about the
 * module is not as expected the direct path stays off and numcodecs' own calls are used.
 */

/** The parts of the WebAssembly API used here (the project's TypeScript lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmTable {
  get(index: number): unknown;
}
interface WasmApi {
  instantiate: (...args: unknown[]) => Promise<unknown>;
  Memory: abstract new (...args: never[]) => WasmMemory;
  Table: abstract new (...args: never[]) => WasmTable;
  Instance: abstract new (...args: never[]) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Registered {
  readonly invoker: number;
  readonly fn: number;
}

interface DirectModule {
  readonly memory: WasmMemory;
  readonly malloc: (n: number) => number;
  readonly free: (p: number) => void;
  readonly table: WasmTable;
  readonly compress: Registered;
  readonly decompress: Registered;
  readonly freeResult: Registered;
  /** Set by the wrapped `_emval_take_value` while a direct call runs: the result's memory view. */
  view: { ptr: number; len: number } | undefined;
  active: boolean;
  /** A direct call threw (a C++ exception leaves the module's stack pointer unknown): stop using it. */
  broken: boolean;
}

const MIN_LEVEL = 1;
const MAX_LEVEL = 22;

let direct: Promise<DirectModule | undefined> | undefined;

/** The direct path, set up once per thread (undefined when it could not be set up). */
function directModule(): Promise<DirectModule | undefined> {
  direct ??= setUp().catch(() => undefined);
  return direct;
}

type WasmImports = Record<string, Record<string, unknown>>;

async function setUp(): Promise<DirectModule | undefined> {
  const original = wasm.instantiate;
  let partial: Omit<DirectModule, "compress" | "decompress" | "freeResult"> | undefined;
  const registered = new Map<string, Registered>();
  wasm.instantiate = async (...args: unknown[]) => {
    const [bytes, imports] = args as [unknown, WasmImports | undefined];
    const env = imports?.a;
    if (partial || !env) return original.call(wasm, ...args);
    const wrapped: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(env)) {
      if (typeof value !== "function") {
        wrapped[name] = value;
        continue;
      }
      const fn = value as (...a: number[]) => unknown;
      wrapped[name] = (...a: number[]) => {
        const m = partial;
        // _embind_register_function(name, argCount, argTypes, signature, invoker, fn, isAsync)
        if (a.length === 7 && m) registered.set(cString(m.memory, a[0]!), { invoker: a[4]!, fn: a[5]! });
        // _emval_take_value(type, argv) while our call runs: argv holds the memory_view {length, data}.
        if (a.length === 2 && m?.active) {
          const u32 = new Uint32Array(m.memory.buffer);
          m.view = { len: u32[a[1]! >>> 2]!, ptr: u32[(a[1]! >>> 2) + 1]! };
          return 2; // the handle of `undefined`: nothing is allocated on the JS side
        }
        return fn(...a);
      };
    }
    const result = await original.call(wasm, bytes, { ...imports, a: wrapped });
    const instance =
      result instanceof wasm.Instance
        ? result
        : (result as { instance: InstanceType<WasmApi["Instance"]> }).instance;
    const ex = instance.exports;
    const memory = Object.values(ex).find((v) => v instanceof wasm.Memory) as WasmMemory | undefined;
    const table = Object.values(ex).find((v) => v instanceof wasm.Table) as WasmTable | undefined;
    // The minified glue names malloc "q" and free "r" (see numcodecs/dist/zstd.js: ob = X.q, W = X.r).
    const malloc = ex.q as DirectModule["malloc"];
    const free = ex.r as DirectModule["free"];
    if (memory && table && typeof malloc === "function" && typeof free === "function") {
      partial = { memory, table, malloc, free, view: undefined, active: false, broken: false };
    }
    return result;
  };
  try {
    // Instantiates numcodecs' module in this thread (only the first use does).
    await Zstd.fromConfig({ level: 1 }).encode(new Uint8Array(16));
  } finally {
    wasm.instantiate = original;
  }
  const compress = registered.get("compress");
  const decompress = registered.get("decompress");
  const freeResult = registered.get("free_result");
  if (!partial || !compress || !decompress || !freeResult) return undefined;
  const m: DirectModule = { ...partial, compress, decompress, freeResult };
  // The module object is what the wrappers see; keep one object for both.
  partial = m;
  return (await selfTest(m)) ? m : undefined;
}

function cString(memory: WasmMemory, p: number): string {
  const heap = new Uint8Array(memory.buffer);
  let end = p;
  while (end < heap.length && heap[end] !== 0 && end - p < 256) end++;
  return Buffer.from(heap.subarray(p, end)).toString("latin1");
}

/**
 * Calls a registered function whose std::string argument already sits at `p + 4` in wasm memory
 * (`length` bytes; the 4 bytes at `p` take the length), and hands `use` a view of the result, valid
 * only during the call (the result is freed after it).
 */
function invokeInPlace<T>(
  m: DirectModule,
  f: Registered,
  p: number,
  length: number,
  extra: number[],
  use: (result: Uint8Array) => T,
): T {
  new Uint32Array(m.memory.buffer)[p >>> 2] = length;
  m.view = undefined;
  m.active = true;
  try {
    (m.table.get(f.invoker) as (...a: number[]) => number)(f.fn, p, ...extra);
  } catch (e) {
    m.broken = true;
    throw e;
  } finally {
    m.active = false;
  }
  const v = m.view as { ptr: number; len: number } | undefined;
  if (!v) {
    m.broken = true;
    throw new Error("zstd: the WebAssembly module returned no result");
  }
  try {
    return use(new Uint8Array(m.memory.buffer, v.ptr, v.len));
  } finally {
    (m.table.get(m.freeResult.invoker) as (fn: number) => void)(m.freeResult.fn);
  }
}

/** Calls a registered function with a std::string argument copied into wasm memory. */
function callWithBytes(m: DirectModule, f: Registered, bytes: Uint8Array, extra: number[]): Uint8Array {
  const p = m.malloc(bytes.length + 5);
  if (!p) throw new Error("zstd: out of WebAssembly memory");
  try {
    new Uint8Array(m.memory.buffer).set(bytes, p + 4);
    return invokeInPlace(m, f, p, bytes.length, extra, (r) => r.slice());
  } finally {
    m.free(p);
  }
}

/**
 * Input areas that live inside the zstd module's memory, for callers that produce data in chunks
 * (the importer cuts slab rows straight into them): no copy on the way in, and the compressed frame
 * is handed out as a view, so it can be written to a file without a copy on the way out either.
 */
export class ZstdWorkspace {
  private readonly m: DirectModule;
  private readonly areas: number[];
  readonly bytes: number;

  private constructor(m: DirectModule, areas: number[], bytes: number) {
    this.m = m;
    this.areas = areas;
    this.bytes = bytes;
  }

  /** `count` areas of `bytes` each, or undefined when this thread has no direct path to zstd. */
  static async create(count: number, bytes: number): Promise<ZstdWorkspace | undefined> {
    const m = await directModule();
    if (!m || m.broken) return undefined;
    const areas: number[] = [];
    for (let i = 0; i < count; i++) {
      const p = m.malloc(bytes + 5);
      if (!p) {
        for (const a of areas) m.free(a);
        return undefined;
      }
      areas.push(p);
    }
    return new ZstdWorkspace(m, areas, bytes);
  }

  get count(): number {
    return this.areas.length;
  }

  /** Area `i` as bytes. Take a fresh view after every compress: wasm memory may have moved. */
  area(i: number): Uint8Array {
    return new Uint8Array(this.m.memory.buffer, this.areas[i]! + 4, this.bytes);
  }

  /** Compresses the first `length` bytes of area `i` into one zstd frame and passes it to `use`. */
  compress<T>(i: number, length: number, level: number, use: (frame: Uint8Array) => T): T {
    if (this.m.broken) throw new Error("zstd: the WebAssembly module failed earlier in this thread");
    return invokeInPlace(this.m, this.m.compress, this.areas[i]!, length, [clampLevel(level)], use);
  }

  dispose(): void {
    for (const a of this.areas.splice(0)) this.m.free(a);
  }
}

async function selfTest(m: DirectModule): Promise<boolean> {
  const sample = new Uint8Array(70_000);
  let s = 12345;
  for (let i = 0; i < sample.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    sample[i] = (i >> 7) ^ (s >>> 29);
  }
  try {
    const mine = callWithBytes(m, m.compress, sample, [3]);
    const theirs = await Zstd.fromConfig({ level: 3 }).encode(sample);
    if (!Buffer.from(mine).equals(Buffer.from(theirs))) return false;
    const back = callWithBytes(m, m.decompress, mine, []);
    return Buffer.from(back).equals(Buffer.from(sample));
  } catch {
    return false;
  }
}

function clampLevel(level: number): number {
  if (!Number.isInteger(level)) throw new Error(`zstd level must be an integer, got ${level}`);
  return Math.max(MIN_LEVEL, Math.min(level, MAX_LEVEL));
}

/** Compresses one zstd frame (numcodecs-identical output); level 1..22. */
export async function zstdCompress(bytes: Uint8Array, level: number): Promise<Uint8Array> {
  const l = clampLevel(level);
  const m = await directModule();
  if (m && !m.broken) return callWithBytes(m, m.compress, bytes, [l]);
  return Zstd.fromConfig({ level: l }).encode(bytes);
}

/** Decompresses one zstd frame; corrupt input is reported by numcodecs' own error path. */
export async function zstdDecompress(bytes: Uint8Array): Promise<Uint8Array> {
  const m = await directModule();
  if (m && !m.broken) {
    try {
      return callWithBytes(m, m.decompress, bytes, []);
    } catch {
      // fall through: numcodecs reports what is wrong with the frame
    }
  }
  return Zstd.fromConfig({}).decode(bytes);
}

/** Whether this thread uses the direct path (for benchmarks and tests). */
export async function zstdIsDirect(): Promise<boolean> {
  const m = await directModule();
  return m !== undefined && !m.broken;
}

/** A zarrita bytes-to-bytes codec with numcodecs' zstd configuration (`level`; `checksum` ignored, as there). */
export class ZstdCodec {
  readonly kind = "bytes_to_bytes";
  readonly level: number;
  constructor(level = MIN_LEVEL) {
    this.level = clampLevel(level);
  }
  static fromConfig(config: { level?: number } = {}): ZstdCodec {
    return new ZstdCodec(config.level ?? MIN_LEVEL);
  }
  encode(bytes: Uint8Array): Promise<Uint8Array> {
    return zstdCompress(bytes, this.level);
  }
  decode(bytes: Uint8Array): Promise<Uint8Array> {
    return zstdDecompress(bytes);
  }
}

let registered = false;

/**
 * Makes zarrita use ZstdCodec for "zstd" (v3) and "numcodecs.zstd" (v2) in this thread. The bytes it
 * writes are those numcodecs writes, so arrays stay readable by every Zarr implementation.
 */
export function registerZstdCodec(): void {
  if (registered) return;
  registered = true;
  const load = async () => ZstdCodec as never;
  zarr.registry.set("zstd", load);
  zarr.registry.set("numcodecs.zstd", load);
}
