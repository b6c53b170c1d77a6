import { OrganelleError } from "../core/errors.ts";
import {
  isTensorDType,
  itemSize,
  numel,
  type Tensor,
  type TensorDType,
  tensorBytes,
  viewBytes,
} from "./tensor.ts";

/*
 * The engine's wire format (docs/engine.md), both directions:
 *
 *   u32 LE header length | u64 LE body length | JSON header (UTF-8) | body
 *
 * The body is the concatenation of the buffers the header lists as {name, dtype, shape, bytes}: raw
 * little-endian C-order arrays, so tensors cross the pipe without any encoding. The body length sits in
 * the fixed prefix so a frame whose header cannot be parsed can still be skipped as a whole.
 */

export const PROTOCOL_VERSION = 1;
export const PREFIX_BYTES = 12;

export interface BufferEntry {
  readonly name: string;
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly bytes: number;
}

export type Header = Record<string, unknown>;

export interface Frame {
  readonly header: Header;
  readonly buffers: ReadonlyMap<string, Tensor>;
}

function protocolError(message: string): OrganelleError {
  return new OrganelleError("Engine", `engine protocol: ${message}`);
}

/** A frame as the pieces to write: prefix + header, then every buffer's bytes as views (no copies). */
export function encodeFrame(header: Header, buffers: Iterable<readonly [string, Tensor]> = []): Uint8Array[] {
  const entries: BufferEntry[] = [];
  const pieces: Uint8Array[] = [];
  let body = 0;
  for (const [name, t] of buffers) {
    const bytes = tensorBytes(t);
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], bytes: bytes.byteLength });
    pieces.push(bytes);
    body += bytes.byteLength;
  }
  const json = Buffer.from(JSON.stringify({ ...header, buffers: entries }), "utf8");
  const head = Buffer.allocUnsafe(PREFIX_BYTES + json.byteLength);
  head.writeUInt32LE(json.byteLength, 0);
  head.writeBigUInt64LE(BigInt(body), 4);
  json.copy(head, PREFIX_BYTES);
  return [head, ...pieces];
}

/**
 * Incremental decoder: push chunks as they arrive from the pipe, get complete frames back. Each frame's
 * body is assembled in one allocation and its tensors are views into it.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private headerBytes = -1;
  private bodyBytes = 0;
  private header: Header | null = null;
  private entries: BufferEntry[] = [];
  private body: Uint8Array | null = null;
  private filled = 0;

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let rest: Buffer | null = chunk;
    while (rest !== null) {
      if (this.body !== null) {
        const n = Math.min(rest.byteLength, this.body.byteLength - this.filled);
        this.body.set(rest.subarray(0, n), this.filled);
        this.filled += n;
        rest = n < rest.byteLength ? rest.subarray(n) : null;
        if (this.filled === this.body.byteLength) frames.push(this.finish());
        continue;
      }
      this.pending.push(rest);
      this.pendingBytes += rest.byteLength;
      rest = null;
      if (this.headerBytes < 0) {
        if (this.pendingBytes < PREFIX_BYTES) break;
        const prefix = this.take(PREFIX_BYTES);
        this.headerBytes = prefix.readUInt32LE(0);
        this.bodyBytes = Number(prefix.readBigUInt64LE(4));
      }
      if (this.pendingBytes < this.headerBytes) break;
      this.startBody(this.take(this.headerBytes));
      if (this.body === null) frames.push(this.finish());
      rest = this.pendingBytes > 0 ? this.take(this.pendingBytes) : null;
    }
    return frames;
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = n < all.byteLength ? [all.subarray(n)] : [];
    this.pendingBytes = all.byteLength - n;
    return all.subarray(0, n);
  }

  private startBody(json: Buffer): void {
    let header: unknown;
    try {
      header = JSON.parse(json.toString("utf8"));
    } catch (e) {
      throw protocolError(`the engine sent a header that is not JSON (${(e as Error).message})`);
    }
    if (!header || typeof header !== "object" || Array.isArray(header)) {
      throw protocolError("the engine sent a header that is not a JSON object");
    }
    this.header = header as Header;
    this.entries = checkEntries(this.header.buffers, this.bodyBytes);
    this.body = this.bodyBytes > 0 ? new Uint8Array(this.bodyBytes) : null;
    this.filled = 0;
  }

  private finish(): Frame {
    const buffers = new Map<string, Tensor>();
    let offset = 0;
    const body = this.body ?? new Uint8Array(0);
    for (const e of this.entries) {
      const data = viewBytes(e.dtype, body.subarray(offset, offset + e.bytes));
      buffers.set(e.name, { dtype: e.dtype, shape: e.shape, data });
      offset += e.bytes;
    }
    const frame = { header: this.header!, buffers };
    this.header = null;
    this.body = null;
    this.headerBytes = -1;
    this.bodyBytes = 0;
    this.entries = [];
    return frame;
  }
}

function checkEntries(listed: unknown, body: number): BufferEntry[] {
  if (listed === undefined) listed = [];
  if (!Array.isArray(listed)) throw protocolError("the header's 'buffers' is not a list");
  let total = 0;
  const out: BufferEntry[] = [];
  for (const b of listed as Record<string, unknown>[]) {
    const { name, dtype, shape, bytes } = b ?? {};
    if (
      typeof name !== "string" ||
      !isTensorDType(dtype) ||
      !Array.isArray(shape) ||
      typeof bytes !== "number"
    ) {
      throw protocolError(`the engine listed a buffer this client cannot read: ${JSON.stringify(b)}`);
    }
    const dims = shape as number[];
    if (bytes !== numel(dims) * itemSize(dtype)) {
      throw protocolError(`buffer '${name}': ${bytes} bytes do not hold ${dtype} [${dims.join(", ")}]`);
    }
    total += bytes;
    out.push({ name, dtype, shape: Object.freeze([...dims]), bytes });
  }
  if (total !== body) throw protocolError(`the buffers list ${total} bytes but the frame body has ${body}`);
  return out;
}
