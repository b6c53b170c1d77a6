import { type Coordinate, coord } from "../core/coordinate.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { VoxelBox } from "../core/roi.ts";
import type { VoxelArray } from "../store/dtype.ts";
import type { VolumeReader } from "../store/reader.ts";

/*
 * Training reads the same few ROIs thousands of times, a small block at a time (rejection statistics,
 * then the augmented source block), and every read would decompress whole chunks again. This cache
 * keeps decoded chunks, least recently used out first, under one byte budget shared by all arrays.
 * Label and mask arrays are kept as 0/1 bytes (a uint32 instance label shrinks 4x); intensities in
 * their own type. Concurrent reads of one chunk share a single decode.
 */

type Chunk = Uint8Array | Uint16Array | Float32Array | Float64Array | VoxelArray;

interface Entry {
  readonly key: string;
  readonly data: Chunk;
  readonly shape: Coordinate;
}

export class ChunkCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes: number) {}

  get size(): number {
    return this.bytes;
  }

  async get(key: string, load: () => Promise<{ data: Chunk; shape: Coordinate }>): Promise<Entry> {
    const e = this.entries.get(key);
    if (e) {
      this.hits++;
      // Re-insert: Map keeps insertion order, so the first key is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, e);
      return e;
    }
    const pending = this.loading.get(key);
    if (pending) {
      this.hits++;
      return pending;
    }
    this.misses++;
    const p = load().then((c) => {
      const entry: Entry = { key, ...c };
      this.loading.delete(key);
      this.bytes += c.data.byteLength;
      this.entries.set(key, entry);
      for (const [k, old] of this.entries) {
        if (this.bytes <= this.budgetBytes || k === key) break;
        this.entries.delete(k);
        this.bytes -= old.data.byteLength;
      }
      return entry;
    });
    p.catch(() => this.loading.delete(key));
    this.loading.set(key, p);
    return p;
  }
}

let nextId = 0;
const ids = new WeakMap<VolumeReader, number>();

function readerId(r: VolumeReader): number {
  let id = ids.get(r);
  if (id === undefined) {
    id = nextId++;
    ids.set(r, id);
  }
  return id;
}

function toBinary(data: VoxelArray): Uint8Array {
  const out = new Uint8Array(data.length);
  if (data instanceof BigUint64Array) for (let i = 0; i < out.length; i++) out[i] = data[i] !== 0n ? 1 : 0;
  else for (let i = 0; i < out.length; i++) out[i] = data[i] !== 0 ? 1 : 0;
  return out;
}

/**
 * Reads a box (voxels of `reader`) through the cache: values outside the array are `fill`; `binary`
 * turns every non-zero value into 1 (and keeps the chunks as bytes).
 */
export async function readCached(
  cache: ChunkCache,
  reader: VolumeReader,
  box: VoxelBox,
  o: { fill: number; binary: boolean; signal?: AbortSignal },
): Promise<Chunk> {
  const n = box.shape[0] * box.shape[1] * box.shape[2];
  const shape = reader.meta.shape;
  const chunks = reader.meta.chunks;
  const dtype = reader.meta.dtype;
  const out: Chunk = o.binary
    ? new Uint8Array(n)
    : dtype === "uint8"
      ? new Uint8Array(n)
      : dtype === "uint16"
        ? new Uint16Array(n)
        : dtype === "float64"
          ? new Float64Array(n)
          : new Float32Array(n);
  const lo = [0, 1, 2].map((d) => Math.max(0, box.begin[d]!));
  const hi = [0, 1, 2].map((d) => Math.min(shape[d]!, box.begin[d]! + box.shape[d]!));
  const inside = [0, 1, 2].every((d) => lo[d] === box.begin[d] && hi[d] === box.begin[d]! + box.shape[d]!);
  if (!inside && o.fill !== 0) out.fill(o.fill);
  if ([0, 1, 2].some((d) => hi[d]! <= lo[d]!)) return out;
  const c0 = [0, 1, 2].map((d) => Math.floor(lo[d]! / chunks[d]!));
  const c1 = [0, 1, 2].map((d) => Math.floor((hi[d]! - 1) / chunks[d]!));
  const id = readerId(reader);
  const jobs: Promise<void>[] = [];
  for (let cz = c0[0]!; cz <= c1[0]!; cz++)
    for (let cy = c0[1]!; cy <= c1[1]!; cy++)
      for (let cx = c0[2]!; cx <= c1[2]!; cx++) {
        const cb = coord(cz * chunks[0], cy * chunks[1], cx * chunks[2]);
        const cs = coord(
          Math.min(chunks[0], shape[0] - cb[0]),
          Math.min(chunks[1], shape[1] - cb[1]),
          Math.min(chunks[2], shape[2] - cb[2]),
        );
        const key = `${id}/${o.binary ? "b" : "v"}/${cz},${cy},${cx}`;
        jobs.push(
          cache
            .get(key, async () => {
              const data = await reader.readBox(
                { begin: cb, shape: cs },
                o.signal ? { signal: o.signal } : {},
              );
              if (o.binary) return { data: toBinary(data), shape: cs };
              if (
                data instanceof BigUint64Array ||
                data instanceof Uint32Array ||
                data instanceof Int32Array
              ) {
                return { data: Float64Array.from(data as ArrayLike<number>), shape: cs };
              }
              return { data, shape: cs };
            })
            .then((e) => {
              const from = [0, 1, 2].map((d) => Math.max(lo[d]!, cb[d]!));
              const to = [0, 1, 2].map((d) => Math.min(hi[d]!, cb[d]! + cs[d]!));
              const size = coord(to[0]! - from[0]!, to[1]! - from[1]!, to[2]! - from[2]!);
              copyBox3d(
                e.data as never,
                e.shape,
                coord(from[0]! - cb[0], from[1]! - cb[1], from[2]! - cb[2]),
                out as never,
                box.shape,
                coord(from[0]! - box.begin[0], from[1]! - box.begin[1], from[2]! - box.begin[2]),
                size,
              );
            }),
        );
      }
  await Promise.all(jobs);
  return out;
}
