import { coord } from "../core/coordinate.ts";
import { type ErrorKind, OrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import type { Block } from "./types.ts";

/**
 * Messages between a WorkerPool and its worker threads. Parameters travel once per job and worker
 * (structured clone: SharedArrayBuffers in them are shared, not copied); each block is then a few
 * numbers. Roi is a class and would lose its prototype in structured clone, so blocks travel as
 * plain numbers and are rebuilt on the other side.
 */
export type ToWorker =
  | { readonly type: "job"; readonly job: number; readonly fn: string; readonly params: unknown }
  | { readonly type: "block"; readonly job: number; readonly block: WireBlock; readonly attempt: number }
  | { readonly type: "abort"; readonly job: number }
  | { readonly type: "end"; readonly job: number };

export type FromWorker =
  | { readonly type: "ready"; readonly tasks: readonly string[] }
  | { readonly type: "done"; readonly job: number; readonly id: number; readonly value: unknown }
  | { readonly type: "failed"; readonly job: number; readonly id: number; readonly error: WireError };

/** id, index z,y,x, read offset+shape, write offset+shape. */
export type WireBlock = readonly number[];

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly kind?: ErrorKind;
  readonly stack?: string;
}

export function encodeBlock(b: Block): WireBlock {
  const r = b.readRoi;
  const w = b.writeRoi;
  return [b.id, ...b.index, ...r.offset, ...r.shape, ...w.offset, ...w.shape];
}

export function decodeBlock(w: WireBlock): Block {
  const n = (i: number) => w[i]!;
  return Object.freeze({
    id: n(0),
    index: coord(n(1), n(2), n(3)),
    readRoi: new Roi(coord(n(4), n(5), n(6)), coord(n(7), n(8), n(9))),
    writeRoi: new Roi(coord(n(10), n(11), n(12)), coord(n(13), n(14), n(15))),
  });
}

export function encodeError(e: unknown): WireError {
  if (e instanceof OrganelleError) return { name: e.name, message: e.message, kind: e.kind, stack: e.stack };
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: "Error", message: String(e) };
}

export function decodeError(w: WireError): Error {
  const e = w.kind ? new OrganelleError(w.kind, w.message) : new Error(w.message);
  if (!w.kind) e.name = w.name;
  if (w.stack) e.stack = w.stack;
  return e;
}
