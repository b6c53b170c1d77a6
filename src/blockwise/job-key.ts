import { createHash } from "node:crypto";
import type { BlockwiseTaskSpec, TaskCall } from "./types.ts";

/**
 * Identifies a job: the hash of its function, its spec and its parameters, so a journal written by
 * one command is never taken for another's. Binary parameters (ArrayBuffers, typed arrays, shared
 * memory) count by type and length only, not content: they are data, and hashing gigabytes per run
 * would cost more than the job; name the input (a path) in the parameters to tell jobs apart.
 */
export function jobKey(spec: BlockwiseTaskSpec, task: TaskCall): string {
  const identity = {
    fn: task.fn,
    spec: {
      name: spec.name,
      totalWriteRoi: spec.totalWriteRoi,
      blockShape: spec.blockShape,
      context: spec.context,
      fit: spec.fit ?? "shrink",
      voxelSize: spec.voxelSize,
    },
    params: task.params,
  };
  return createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, 24);
}

/** JSON with sorted object keys, so equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function write(v: unknown, seen: Set<object>): string {
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : `"${String(v)}"`;
  if (typeof v === "bigint") return `"${v}n"`;
  if (typeof v !== "object") return "null"; // undefined, functions, symbols
  if (seen.has(v)) return '"[cycle]"';
  seen.add(v);
  try {
    if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) {
      return `{"$bytes":"${v.constructor.name}","length":${v.byteLength}}`;
    }
    if (ArrayBuffer.isView(v)) {
      return `{"$view":"${v.constructor.name}","length":${v.byteLength}}`;
    }
    const withToJson = v as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === "function") return write(withToJson.toJSON(), seen);
    if (Array.isArray(v)) return `[${v.map((x) => write(x, seen)).join(",")}]`;
    if (v instanceof Map)
      return `{"$map":[${[...v].map(([k, x]) => `[${write(k, seen)},${write(x, seen)}]`).join(",")}]}`;
    if (v instanceof Set) return `{"$set":[${[...v].map((x) => write(x, seen)).join(",")}]}`;
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], seen)}`).join(",")}}`;
  } finally {
    seen.delete(v);
  }
}
