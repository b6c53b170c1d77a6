/// <reference lib="webworker" />
/*
 * Chunk worker: fetches zarr chunks over HTTP and decodes them (zstd/blosc/gzip through zarrita's codec
 * registry, i.e. numcodecs' WebAssembly builds) off the main thread, keeps recently decoded chunks in an
 * LRU so scrolling through a chunk's planes costs no refetch, and replies with the requested plane.
 *
 * Chunk lifecycle: requested -> fetching (AbortController shared by every plane request waiting on it)
 * -> decoded (in the LRU) -> evicted. A cancelled plane request detaches from its chunk; when no request
 * waits any more the fetch is aborted and the chunk forgotten.
 */
import * as zarr from "zarrita";
import { Lru } from "./lru.ts";
import {
  type PlaneData,
  type PlaneRequest,
  planeDims,
  type WorkerReply,
  type WorkerRequest,
} from "./protocol.ts";

type AnyArray = zarr.Array<zarr.DataType, zarr.FetchStore>;

interface Decoded {
  data: PlaneData;
  shape: [number, number, number];
}

interface Pending {
  controller: AbortController;
  waiting: Set<number>;
  promise: Promise<Decoded>;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
const arrays = new Map<string, Promise<AnyArray>>();
const decoded = new Lru<string, Decoded>(192 * 1024 * 1024);
const pending = new Map<string, Pending>();
const requestChunk = new Map<number, string>();

function openArray(url: string): Promise<AnyArray> {
  let p = arrays.get(url);
  if (!p) {
    p = zarr.open(new zarr.FetchStore(url), { kind: "array" }) as Promise<AnyArray>;
    p.catch(() => arrays.delete(url));
    arrays.set(url, p);
  }
  return p;
}

function fetchChunk(
  url: string,
  coords: [number, number, number],
  key: string,
  id: number,
): Promise<Decoded> {
  const p = pending.get(key);
  if (p) {
    p.waiting.add(id);
    return p.promise;
  }
  const controller = new AbortController();
  const promise = (async () => {
    const arr = await openArray(url);
    const chunk = await arr.getChunk(coords, { signal: controller.signal });
    const shape = chunk.shape as [number, number, number];
    const raw = chunk.data as unknown;
    // 64-bit ids arrive as BigInt arrays; views only need them as numbers (exact below 2^53).
    const data =
      raw instanceof BigUint64Array || raw instanceof BigInt64Array
        ? Float64Array.from(raw, (v) => Number(v))
        : (raw as PlaneData);
    return { data, shape };
  })();
  const entry: Pending = { controller, waiting: new Set([id]), promise };
  pending.set(key, entry);
  promise.then(
    (d) => {
      if (pending.get(key) === entry) pending.delete(key);
      decoded.set(key, d, d.data.byteLength);
    },
    () => {
      if (pending.get(key) === entry) pending.delete(key);
    },
  );
  return promise;
}

function extractPlane(
  d: Decoded,
  axis: PlaneRequest["axis"],
  local: number,
): { data: PlaneData; rows: number; cols: number } {
  const [s0, s1, s2] = d.shape;
  const [rd, cd] = planeDims(axis);
  const rows = d.shape[rd];
  const cols = d.shape[cd];
  const Ctor = d.data.constructor as new (n: number) => PlaneData;
  if (axis === 0)
    return { data: d.data.slice(local * s1 * s2, (local + 1) * s1 * s2) as PlaneData, rows, cols };
  const out = new Ctor(rows * cols);
  const src = d.data;
  if (axis === 1) {
    for (let z = 0; z < s0; z++)
      out.set(src.subarray(z * s1 * s2 + local * s2, z * s1 * s2 + local * s2 + s2) as never, z * s2);
  } else {
    for (let z = 0; z < s0; z++) {
      const base = z * s1 * s2 + local;
      const row = z * s1;
      for (let y = 0; y < s1; y++) out[row + y] = src[base + y * s2]!;
    }
  }
  return { data: out, rows, cols };
}

function reply(msg: WorkerReply): void {
  if (msg.type === "plane") scope.postMessage(msg, [msg.data.buffer as ArrayBuffer]);
  else scope.postMessage(msg);
}

async function handlePlane(req: PlaneRequest): Promise<void> {
  const key = `${req.url}|${req.chunk.join(",")}`;
  requestChunk.set(req.id, key);
  try {
    const d = decoded.get(key) ?? (await fetchChunk(req.url, req.chunk, key, req.id));
    if (!requestChunk.has(req.id)) return; // cancelled while waiting
    reply({ type: "plane", id: req.id, ...extractPlane(d, req.axis, req.local) });
  } catch (e) {
    const aborted = (e as { name?: string }).name === "AbortError";
    reply({ type: "error", id: req.id, message: e instanceof Error ? e.message : String(e), aborted });
  } finally {
    requestChunk.delete(req.id);
    pending.get(key)?.waiting.delete(req.id);
  }
}

function cancel(id: number): void {
  const key = requestChunk.get(id);
  requestChunk.delete(id);
  if (key === undefined) return;
  const p = pending.get(key);
  if (!p) return;
  p.waiting.delete(id);
  if (p.waiting.size === 0) {
    p.controller.abort();
    pending.delete(key);
  }
}

scope.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const msg = e.data;
  if (msg.type === "cancel") cancel(msg.id);
  else void handlePlane(msg);
};
