import { invalidArgument, invalidData } from "../core/errors.ts";
import type { VoxelArray } from "../store/dtype.ts";

/*
 * How `gt import` turns the ids of a source label volume into an organelle label:
 *   (nothing)        non-zero -> 1                  binary, uint8
 *   --ids 3,5        3, 5 -> 1, other ids -> 0       binary, uint8
 *   --map 3:1,5:2    3 -> 1, 5 -> 2, others -> 0     binary uint8 if every target is 1, else instance uint32
 *   --instances      ids kept                        instance, uint32 (with --ids: only those ids kept)
 * Plain data (typed arrays), so it travels to worker threads.
 */

export interface IdMapping {
  /** Sorted source ids with an explicit target. */
  readonly keys: Float64Array;
  readonly values: Float64Array;
  /** Target of ids not in `keys` (0 stays 0): 0, 1, or the id itself. */
  readonly otherwise: "zero" | "one" | "same";
  readonly dtype: "uint8" | "uint32";
}

function parseId(s: string, what: string): number {
  const n = Number(s.trim());
  if (!(Number.isInteger(n) && n >= 1 && n <= 0xffffffff)) {
    throw invalidArgument(`${what}: '${s}' is not an id (a whole number from 1 to 4294967295)`);
  }
  return n;
}

export function parseIds(text: string): number[] {
  const ids = text
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((s) => parseId(s, "--ids"));
  if (ids.length === 0) throw invalidArgument(`--ids '${text}': give ids separated by commas, e.g. 3,5`);
  return [...new Set(ids)].sort((a, b) => a - b);
}

export function parseMap(text: string): [number, number][] {
  const pairs = text
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((p) => {
      const m = /^\s*([^:]+):([^:]+)\s*$/.exec(p);
      if (!m) throw invalidArgument(`--map '${p}': expected SOURCE:TARGET pairs, e.g. 3:1,5:2`);
      return [parseId(m[1]!, "--map source"), parseId(m[2]!, "--map target")] as [number, number];
    });
  if (pairs.length === 0) throw invalidArgument(`--map '${text}': give SOURCE:TARGET pairs, e.g. 3:1,5:2`);
  const seen = new Set<number>();
  for (const [s] of pairs) {
    if (seen.has(s)) throw invalidArgument(`--map: source id ${s} is mapped twice`);
    seen.add(s);
  }
  return pairs.sort((a, b) => a[0] - b[0]);
}

export function buildMapping(o: {
  ids?: readonly number[];
  map?: readonly [number, number][];
  instances?: boolean;
}): IdMapping {
  if (o.ids && o.map) throw invalidArgument("give either --ids or --map, not both");
  if (o.map) {
    if (o.instances) throw invalidArgument("--map sets the target ids itself; drop --instances");
    const binary = o.map.every(([, t]) => t === 1);
    return {
      keys: Float64Array.from(o.map.map((p) => p[0])),
      values: Float64Array.from(o.map.map((p) => p[1])),
      otherwise: "zero",
      dtype: binary ? "uint8" : "uint32",
    };
  }
  if (o.ids) {
    const keys = Float64Array.from(o.ids);
    return {
      keys,
      values: o.instances ? Float64Array.from(o.ids) : new Float64Array(o.ids.length).fill(1),
      otherwise: "zero",
      dtype: o.instances ? "uint32" : "uint8",
    };
  }
  return o.instances
    ? { keys: new Float64Array(0), values: new Float64Array(0), otherwise: "same", dtype: "uint32" }
    : { keys: new Float64Array(0), values: new Float64Array(0), otherwise: "one", dtype: "uint8" };
}

function lookup(m: IdMapping, v: number): number {
  if (v === 0) return 0;
  const k = m.keys;
  let lo = 0;
  let hi = k.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = k[mid]!;
    if (x === v) return m.values[mid]!;
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return m.otherwise === "zero" ? 0 : m.otherwise === "one" ? 1 : v;
}

/** Applies the mapping to source ids; `where` names the source in errors. */
export function applyMapping(src: VoxelArray, m: IdMapping, where: string): Uint8Array | Uint32Array {
  if (src instanceof Float32Array || src instanceof Float64Array) {
    throw invalidData(`${where} holds floating-point values, not label ids`);
  }
  const n = src.length;
  const out = m.dtype === "uint8" ? new Uint8Array(n) : new Uint32Array(n);
  const limit = m.dtype === "uint8" ? 0xff : 0xffffffff;
  let last = -1;
  let mapped = 0;
  for (let i = 0; i < n; i++) {
    const raw = src[i]!;
    const v = typeof raw === "bigint" ? Number(raw) : raw;
    if (v !== last) {
      last = v;
      mapped = lookup(m, v);
      if (mapped > limit || mapped < 0) {
        throw invalidData(
          `${where}: id ${typeof raw === "bigint" ? raw.toString() : v} does not fit a ${m.dtype} label; give --map to renumber it`,
        );
      }
    }
    out[i] = mapped;
  }
  return out;
}
