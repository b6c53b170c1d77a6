import * as fs from "node:fs";
import { fromFsError, invalidArgument } from "../core/errors.ts";

/*
 * A small baseline TIFF writer: uncompressed greyscale (MinIsBlack), one strip per page, little-endian,
 * classic TIFF or BigTIFF, pages streamed one after another so a stack never has to be in memory.
 * We write it ourselves because no maintained npm package writes streaming multi-page greyscale TIFF
 * (geotiff's writer builds one in-memory single-image GeoTIFF; utif/tiff packages are read-mostly or
 * unmaintained and hold whole files in memory) and the format needed here is about 150 lines.
 *
 * Layout: header, then per page [IFD][out-of-line tag values][pixels]. Every page has the same size
 * except the first (which carries the description), so every IFD offset is known before writing and
 * nothing is patched afterwards. The output is a deterministic function of the pixels and the layout.
 */

export type TiffDType = "uint8" | "uint16" | "uint32" | "int32" | "float32";

export type TiffPixels = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float32Array;

export interface TiffLayout {
  readonly width: number;
  readonly height: number;
  readonly dtype: TiffDType;
  readonly pages: number;
  /** ImageDescription of the first page (ASCII). */
  readonly description?: string;
  /** XResolution / YResolution in pixels per centimetre (ResolutionUnit 3). */
  readonly pixelsPerCm?: { readonly x: number; readonly y: number };
  /** Force BigTIFF (true) or classic (false); default: BigTIFF only when the file exceeds 4 GiB. */
  readonly bigTiff?: boolean;
}

const TYPE = { SHORT: 3, LONG: 4, RATIONAL: 5, ASCII: 2, LONG8: 16 } as const;
const SIZE: Record<number, number> = { 2: 1, 3: 2, 4: 4, 5: 8, 16: 8 };

function bytesPer(d: TiffDType): number {
  return d === "uint8" ? 1 : d === "uint16" ? 2 : 4;
}

function sampleFormat(d: TiffDType): number {
  return d === "int32" ? 2 : d === "float32" ? 3 : 1;
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Numbers for SHORT/LONG/LONG8, [num, den] pairs flattened for RATIONAL, bytes for ASCII. */
  values: number[] | Uint8Array;
}

/** Rational with a power-of-ten denominator that keeps both terms within 32 bits. */
function toRational(v: number): [number, number] {
  let den = 1;
  while (den < 1_000_000 && Math.round(v * den * 10) < 0xffffffff) den *= 10;
  return [Math.min(0xffffffff, Math.round(v * den)), den];
}

function entriesFor(layout: TiffLayout, page: number, stripOffset: number, big: boolean): Entry[] {
  const bpp = bytesPer(layout.dtype);
  const stripBytes = layout.width * layout.height * bpp;
  const e: Entry[] = [
    { tag: 256, type: TYPE.LONG, count: 1, values: [layout.width] },
    { tag: 257, type: TYPE.LONG, count: 1, values: [layout.height] },
    { tag: 258, type: TYPE.SHORT, count: 1, values: [bpp * 8] },
    { tag: 259, type: TYPE.SHORT, count: 1, values: [1] },
    { tag: 262, type: TYPE.SHORT, count: 1, values: [1] },
  ];
  if (page === 0 && layout.description !== undefined) {
    const text = Buffer.from(`${layout.description}\0`, "latin1");
    e.push({ tag: 270, type: TYPE.ASCII, count: text.length, values: new Uint8Array(text) });
  }
  e.push(
    { tag: 273, type: big ? TYPE.LONG8 : TYPE.LONG, count: 1, values: [stripOffset] },
    { tag: 277, type: TYPE.SHORT, count: 1, values: [1] },
    { tag: 278, type: TYPE.LONG, count: 1, values: [layout.height] },
    { tag: 279, type: big ? TYPE.LONG8 : TYPE.LONG, count: 1, values: [stripBytes] },
  );
  if (layout.pixelsPerCm) {
    e.push(
      { tag: 282, type: TYPE.RATIONAL, count: 1, values: toRational(layout.pixelsPerCm.x) },
      { tag: 283, type: TYPE.RATIONAL, count: 1, values: toRational(layout.pixelsPerCm.y) },
    );
  }
  e.push({ tag: 284, type: TYPE.SHORT, count: 1, values: [1] });
  if (layout.pixelsPerCm) e.push({ tag: 296, type: TYPE.SHORT, count: 1, values: [3] });
  e.push({ tag: 339, type: TYPE.SHORT, count: 1, values: [sampleFormat(layout.dtype)] });
  return e;
}

const even = (n: number) => n + (n & 1);

/** Bytes of a page's IFD plus its out-of-line values (word aligned), before the pixels. */
function directoryBytes(entries: Entry[], big: boolean): number {
  const inline = big ? 8 : 4;
  let extra = 0;
  for (const e of entries) {
    const n = SIZE[e.type]! * e.count;
    if (n > inline) extra += even(n);
  }
  return (big ? 8 : 2) + entries.length * (big ? 20 : 12) + (big ? 8 : 4) + extra;
}

function pageBytes(layout: TiffLayout, page: number, big: boolean): { dir: number; pixels: number } {
  const pixels = layout.width * layout.height * bytesPer(layout.dtype);
  return { dir: directoryBytes(entriesFor(layout, page, 0, big), big), pixels: even(pixels) };
}

/** Size in bytes of the file `TiffWriter` writes for this layout (classic TIFF unless told otherwise). */
export function tiffFileSize(layout: TiffLayout, big = false): number {
  const header = big ? 16 : 8;
  if (layout.pages === 0) return header;
  const p0 = pageBytes(layout, 0, big);
  const rest = layout.pages > 1 ? pageBytes(layout, 1, big) : { dir: 0, pixels: 0 };
  return header + p0.dir + p0.pixels + (layout.pages - 1) * (rest.dir + rest.pixels);
}

function encodeDirectory(entries: Entry[], at: number, next: number, big: boolean): Buffer {
  const size = directoryBytes(entries, big);
  const buf = Buffer.alloc(size);
  const inline = big ? 8 : 4;
  let p = 0;
  if (big) buf.writeBigUInt64LE(BigInt(entries.length), p);
  else buf.writeUInt16LE(entries.length, p);
  p += big ? 8 : 2;
  let extra = p + entries.length * (big ? 20 : 12) + (big ? 8 : 4);
  const writeValues = (e: Entry, q: number) => {
    if (e.values instanceof Uint8Array) {
      buf.set(e.values, q);
      return;
    }
    for (const v of e.values) {
      if (e.type === TYPE.SHORT) buf.writeUInt16LE(v, q);
      else if (e.type === TYPE.LONG8) buf.writeBigUInt64LE(BigInt(v), q);
      else buf.writeUInt32LE(v, q);
      q += e.type === TYPE.SHORT ? 2 : e.type === TYPE.LONG8 ? 8 : 4;
    }
  };
  for (const e of entries) {
    buf.writeUInt16LE(e.tag, p);
    buf.writeUInt16LE(e.type, p + 2);
    if (big) buf.writeBigUInt64LE(BigInt(e.count), p + 4);
    else buf.writeUInt32LE(e.count, p + 4);
    const valueAt = p + (big ? 12 : 8);
    const n = SIZE[e.type]! * e.count;
    if (n <= inline) {
      writeValues(e, valueAt);
    } else {
      if (big) buf.writeBigUInt64LE(BigInt(at + extra), valueAt);
      else buf.writeUInt32LE(at + extra, valueAt);
      writeValues(e, extra);
      extra += even(n);
    }
    p += big ? 20 : 12;
  }
  if (big) buf.writeBigUInt64LE(BigInt(next), p);
  else buf.writeUInt32LE(next, p);
  return buf;
}

const CLASSIC_LIMIT = 0xffffffff;

/** Streams the pages of one TIFF file; `close()` after the last page, `abort()` on failure. */
export class TiffWriter {
  readonly path: string;
  readonly layout: TiffLayout;
  readonly bigTiff: boolean;
  private fd: number | undefined;
  private position: number;
  private page = 0;

  private constructor(path: string, layout: TiffLayout, fd: number, bigTiff: boolean) {
    this.path = path;
    this.layout = layout;
    this.fd = fd;
    this.bigTiff = bigTiff;
    this.position = bigTiff ? 16 : 8;
  }

  static create(path: string, layout: TiffLayout): TiffWriter {
    for (const [k, v] of [
      ["width", layout.width],
      ["height", layout.height],
      ["pages", layout.pages],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw invalidArgument(`TIFF ${k} must be a positive integer, got ${v}`);
      }
    }
    const classicSize = tiffFileSize(layout, false);
    const big = layout.bigTiff ?? classicSize > CLASSIC_LIMIT;
    if (!big && classicSize > CLASSIC_LIMIT) {
      throw invalidArgument(`${path}: ${classicSize} bytes do not fit a classic TIFF (4 GiB); write BigTIFF`);
    }
    let fd: number;
    try {
      fd = fs.openSync(path, "w");
    } catch (e) {
      throw fromFsError(e, path, "creating the TIFF file");
    }
    const w = new TiffWriter(path, layout, fd, big);
    const header = Buffer.alloc(big ? 16 : 8);
    header.write("II", 0, "latin1");
    if (big) {
      header.writeUInt16LE(43, 2);
      header.writeUInt16LE(8, 4);
      header.writeUInt16LE(0, 6);
      header.writeBigUInt64LE(16n, 8);
    } else {
      header.writeUInt16LE(42, 2);
      header.writeUInt32LE(8, 4);
    }
    w.write(header);
    w.position = header.length;
    return w;
  }

  get pagesWritten(): number {
    return this.page;
  }

  /** Writes the next page: `width * height` values of the layout's dtype, row-major. */
  writePage(pixels: TiffPixels): void {
    const { layout, bigTiff: big } = this;
    if (this.page >= layout.pages)
      throw invalidArgument(`${this.path}: all ${layout.pages} pages are written`);
    if (
      pixels.length !== layout.width * layout.height ||
      bytesPer(layout.dtype) !== pixels.BYTES_PER_ELEMENT
    ) {
      throw invalidArgument(
        `${this.path}: page ${this.page} has ${pixels.length} values of ${pixels.BYTES_PER_ELEMENT} bytes, expected ${layout.width * layout.height} of ${bytesPer(layout.dtype)}`,
      );
    }
    const size = pageBytes(layout, this.page, big);
    const at = this.position;
    const stripOffset = at + size.dir;
    const last = this.page === layout.pages - 1;
    const next = last ? 0 : stripOffset + size.pixels;
    this.write(encodeDirectory(entriesFor(layout, this.page, stripOffset, big), at, next, big));
    this.write(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
    if (pixels.byteLength & 1) this.write(new Uint8Array(1));
    this.position = next;
    this.page++;
  }

  /** Finishes the file; fails if pages are missing (the caller's bug, never a short file). */
  close(): void {
    if (this.fd === undefined) return;
    if (this.page !== this.layout.pages) {
      this.abort();
      throw invalidArgument(`${this.path}: only ${this.page} of ${this.layout.pages} pages were written`);
    }
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw fromFsError(e, this.path, "closing the TIFF file");
    }
  }

  /** Closes and removes the partial file. */
  abort(): void {
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // closing a broken descriptor: nothing more to do
      }
      this.fd = undefined;
    }
    fs.rmSync(this.path, { force: true });
  }

  private write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw invalidArgument(`${this.path}: the TIFF writer is closed`);
    let done = 0;
    try {
      while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (e) {
      throw fromFsError(e, this.path, "writing the TIFF file");
    }
  }
}
