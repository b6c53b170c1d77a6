/*
 * The seam between data and rendering: `getTile({array, axis, index, level, row, col, signal})` resolves to
 * the 2D plane of one chunk (rows x cols voxels of that scale level), whatever the format or transport
 * behind it. Views ask for the tiles they need on every frame, draw the ones `peekTile` already has and are
 * woken by `onTile` when more arrive.
 *
 * Requests go to a small pool of chunk workers, routed by chunk so that one worker's LRU holds all the
 * planes of a chunk. Decoded planes are kept in a main-thread LRU. A tile request detaches when its
 * signal aborts; the worker request is cancelled once nobody waits for it.
 */
import type { ArrayInfo } from "../api.ts";
import { Lru } from "./lru.ts";
import { type Axis, type PlaneData, planeDims, type WorkerReply, type WorkerRequest } from "./protocol.ts";

export type { Axis } from "./protocol.ts";

export interface TileRequest {
  array: ArrayInfo;
  axis: Axis;
  /** Plane index along `axis` in voxels of `level`. */
  index: number;
  level: number;
  /** Chunk indices of the tile along the view's row and column dimensions. */
  row: number;
  col: number;
  signal?: AbortSignal;
}

export interface Tile {
  data: PlaneData;
  /** Size of the decoded plane (the chunk's), of which `validRows` x `validCols` lie inside the array. */
  rows: number;
  cols: number;
  validRows: number;
  validCols: number;
  /** Voxel index of the tile's first row and column at its level. */
  row0: number;
  col0: number;
}

interface InFlight {
  promise: Promise<Tile>;
  waiting: number;
  cancel: () => void;
}

const WORKERS = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));

export function tileKey(r: Omit<TileRequest, "signal">): string {
  return `${r.array.url}|${r.level}|${r.axis}|${r.index}|${r.row}|${r.col}`;
}

function abortError(): Error {
  return new DOMException("tile request aborted", "AbortError");
}

export class TileSource {
  private readonly workers: Worker[] = [];
  private nextId = 1;
  private readonly replies = new Map<number, (r: WorkerReply) => void>();
  private readonly tiles = new Lru<string, Tile>(256 * 1024 * 1024);
  private readonly inflight = new Map<string, InFlight>();
  private readonly listeners = new Set<() => void>();

  private worker(i: number): Worker {
    let w = this.workers[i];
    if (!w) {
      w = new Worker(new URL("./chunk-worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<WorkerReply>) => this.replies.get(e.data.id)?.(e.data);
      this.workers[i] = w;
    }
    return w;
  }

  /** Called (batched by the caller) whenever a tile arrives. */
  onTile(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  peekTile(r: Omit<TileRequest, "signal">): Tile | undefined {
    return this.tiles.get(tileKey(r));
  }

  getTile(r: TileRequest): Promise<Tile> {
    const key = tileKey(r);
    const have = this.tiles.get(key);
    if (have) return Promise.resolve(have);
    if (r.signal?.aborted) return Promise.reject(abortError());
    let f = this.inflight.get(key);
    if (!f) f = this.start(r, key);
    const flight = f;
    flight.waiting++;
    return new Promise<Tile>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        reject(abortError());
        if (--flight.waiting === 0) flight.cancel();
      };
      r.signal?.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (t) => {
          if (settled) return;
          settled = true;
          r.signal?.removeEventListener("abort", onAbort);
          flight.waiting--;
          resolve(t);
        },
        (e) => {
          if (settled) return;
          settled = true;
          r.signal?.removeEventListener("abort", onAbort);
          flight.waiting--;
          reject(e);
        },
      );
    });
  }

  private start(r: TileRequest, key: string): InFlight {
    const scale = r.array.scales[r.level];
    if (!scale) throw new Error(`${r.array.path}: no scale level ${r.level}`);
    const [rd, cd] = planeDims(r.axis);
    const chunk: [number, number, number] = [0, 0, 0];
    chunk[r.axis] = Math.floor(r.index / scale.chunks[r.axis]);
    chunk[rd] = r.row;
    chunk[cd] = r.col;
    const local = r.index - chunk[r.axis] * scale.chunks[r.axis];
    const url = new URL(`${r.array.url.replace(/\/$/, "")}/${scale.path}`, location.href).href;
    const id = this.nextId++;
    const chunkKey = `${url}|${chunk.join(",")}`;
    let h = 0;
    for (let i = 0; i < chunkKey.length; i++) h = (h * 31 + chunkKey.charCodeAt(i)) | 0;
    const worker = this.worker(Math.abs(h) % WORKERS);
    const row0 = r.row * scale.chunks[rd];
    const col0 = r.col * scale.chunks[cd];
    let rejectFn: (e: Error) => void = () => {};
    const promise = new Promise<Tile>((resolve, reject) => {
      rejectFn = reject;
      this.replies.set(id, (msg) => {
        this.replies.delete(id);
        this.inflight.delete(key);
        if (msg.type === "error") {
          reject(msg.aborted ? abortError() : new Error(`${r.array.path} ${scale.path}: ${msg.message}`));
          return;
        }
        const tile: Tile = {
          data: msg.data,
          rows: msg.rows,
          cols: msg.cols,
          validRows: Math.min(msg.rows, scale.shape[rd] - row0),
          validCols: Math.min(msg.cols, scale.shape[cd] - col0),
          row0,
          col0,
        };
        this.tiles.set(key, tile, msg.data.byteLength);
        resolve(tile);
        for (const l of this.listeners) l();
      });
    });
    promise.catch(() => {}); // waiters see the rejection; the flight itself must not be unhandled
    const req: WorkerRequest = { type: "plane", id, url, chunk, axis: r.axis, local };
    worker.postMessage(req);
    const flight: InFlight = {
      promise,
      waiting: 0,
      cancel: () => {
        this.replies.delete(id);
        this.inflight.delete(key);
        worker.postMessage({ type: "cancel", id } satisfies WorkerRequest);
        rejectFn(abortError());
      },
    };
    this.inflight.set(key, flight);
    return flight;
  }

  dispose(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
    this.listeners.clear();
  }
}
