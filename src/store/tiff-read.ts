import * as fs from "node:fs";
import { GeoTIFF, GeoTIFFImage, type ImageFileDirectory } from "geotiff";
import { fromFsError, invalidData, OrganelleError, unsupported } from "../core/errors.ts";

/*
 * TIFF pages for import. geotiff parses the IFDs (both byte orders, classic and BigTIFF) and decodes
 * compressed or tiled pages; uncompressed strips, by far the most common layout of FIB-SEM exports,
 * are read straight from the file into the caller's buffer (one read per strip run, no decoding, no
 * intermediate copies), which keeps import close to disk speed.
 */

/** Pixel types organelle imports. */
export type SliceDType = "uint8" | "uint16";

/** A 2D window of a page, in pixels. */
export interface PixelWindow {
  readonly y: number;
  readonly x: number;
  readonly height: number;
  readonly width: number;
}

/** What one page (IFD) holds, read from its tags. Strip tables are not kept (they can be large). */
export interface TiffPage {
  /** Index of the page among the file's full-resolution pages. */
  readonly index: number;
  readonly ifdOffset: number;
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly samplesPerPixel: number;
  /** 1 unsigned integer, 2 signed integer, 3 floating point. */
  readonly sampleFormat: number;
  readonly photometric: number;
  readonly compression: number;
  readonly tiled: boolean;
  readonly description: string | undefined;
  /** XResolution, YResolution (pixels per unit) and ResolutionUnit (1 none, 2 inch, 3 cm). */
  readonly resolution: { x: number; y: number; unit: number } | undefined;
}

/** A page's pixel type in one phrase, e.g. "RGB (3 samples per pixel)" or "32-bit floating point". */
export function describePixels(p: TiffPage): string {
  if (p.samplesPerPixel > 1) {
    const what = p.photometric === 2 ? "RGB" : p.photometric === 5 ? "CMYK" : "multi-channel";
    return `${what} (${p.samplesPerPixel} samples per pixel, ${p.bitsPerSample}-bit)`;
  }
  if (p.photometric === 3) return `palette colour (${p.bitsPerSample}-bit indices)`;
  const kind = p.sampleFormat === 3 ? "floating point" : p.sampleFormat === 2 ? "signed integer" : "unsigned";
  return `${p.bitsPerSample}-bit ${kind} greyscale`;
}

/** The import dtype of a page, or an error naming the file and saying what was found. */
export function pageDType(p: TiffPage, where: string): SliceDType {
  const grey = p.samplesPerPixel === 1 && (p.photometric === 0 || p.photometric === 1);
  if (grey && p.sampleFormat === 1) {
    if (p.bitsPerSample === 8) return "uint8";
    if (p.bitsPerSample === 16) return "uint16";
  }
  throw unsupported(
    `${where}: pixels are ${describePixels(p)}; organelle imports 8- or 16-bit unsigned greyscale (convert the stack first, e.g. Fiji: Image > Type > 8-bit or 16-bit)`,
  );
}

type Fetch = (slices: { offset: number; length: number }[]) => Promise<ArrayBuffer[]>;

/** A TIFF file opened for reading pages; close() releases its file descriptor. */
export class TiffFile {
  readonly path: string;
  readonly size: number;
  readonly littleEndian: boolean;
  readonly bigTiff: boolean;
  private readonly fd: number;
  private readonly tiff: GeoTIFF;
  private readonly source: { fetch: Fetch; close: () => Promise<void> };

  private constructor(path: string, fd: number, size: number, tiff: GeoTIFF, source: TiffFile["source"]) {
    this.path = path;
    this.fd = fd;
    this.size = size;
    this.tiff = tiff;
    this.source = source;
    this.littleEndian = tiff.littleEndian;
    this.bigTiff = tiff.bigTiff;
  }

  static async open(path: string): Promise<TiffFile> {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (e) {
      throw fromFsError(e, path, "opening the TIFF file");
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) throw invalidData(`${path}: not a TIFF file (only ${size} bytes)`);
      const head = Buffer.alloc(4);
      fs.readSync(fd, head, 0, 4, 0);
      const order = head.toString("latin1", 0, 2);
      const magic = order === "II" ? head.readUInt16LE(2) : head.readUInt16BE(2);
      if ((order !== "II" && order !== "MM") || (magic !== 42 && magic !== 43)) {
        throw invalidData(`${path}: not a TIFF file (no II*/MM* header); is it an image at all?`);
      }
      const source = {
        // Like geotiff's file source (zero-filled past the end), but synchronous reads on our descriptor.
        fetch: async (slices: { offset: number; length: number }[]) =>
          slices.map((s) => {
            const buf = new Uint8Array(s.length);
            if (s.offset < size) fs.readSync(fd, buf, 0, Math.min(s.length, size - s.offset), s.offset);
            return buf.buffer;
          }),
        close: async () => {},
      };
      const tiff = await GeoTIFF.fromSource(source as never);
      return new TiffFile(path, fd, size, tiff, source);
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof OrganelleError) throw e;
      throw invalidData(`${path}: not a readable TIFF file (${(e as Error).message})`, e);
    }
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  /** The page whose IFD starts at `offset`. */
  async pageAt(offset: number, index: number): Promise<TiffPage> {
    return describePage(await this.ifdAt(offset, index), offset, index, this.where(index));
  }

  /**
   * Walks the IFD chain and yields the full-resolution pages (reduced-resolution and thumbnail pages
   * are skipped). Memory stays constant: only the current IFD is held.
   */
  async *pages(): AsyncGenerator<TiffPage> {
    let offset = this.tiff.firstIFDOffset;
    const seen = new Set<number>();
    let index = 0;
    while (offset !== 0) {
      if (seen.has(offset))
        throw invalidData(`${this.path}: the page list loops back on itself (corrupt file)`);
      seen.add(offset);
      const ifd = await this.ifdAt(offset, index);
      const subfile = Number(ifd.getValue("NewSubfileType") ?? 0);
      if ((subfile & 1) === 0) {
        yield await describePage(ifd, offset, index, this.where(index));
        index++;
      }
      offset = Number(ifd.nextIFDByteOffset);
    }
  }

  /**
   * Throws when the page's pixel data would lie past the end of the file (a truncated copy). Returns
   * the file offset of the pixels when they are stored plainly (uncompressed strips back to back in
   * row order), which `readPlainPixels` reads without parsing the page again.
   */
  async checkExtent(page: TiffPage): Promise<number | undefined> {
    const ifd = await this.ifdAt(page.ifdOffset, page.index);
    const offsets = await ifd.loadValue(page.tiled ? "TileOffsets" : "StripOffsets");
    const counts = await ifd.loadValue(page.tiled ? "TileByteCounts" : "StripByteCounts");
    if (!offsets || !counts) {
      throw invalidData(`${this.where(page.index)}: no strip or tile offsets (corrupt TIFF)`);
    }
    let end = 0;
    let plain = page.compression === 1 && !page.tiled && offsets.length > 0;
    for (let i = 0; i < offsets.length; i++) {
      const o = Number(offsets[i]);
      const c = Number(counts[i] ?? 0);
      end = Math.max(end, o + c);
      if (i > 0 && o !== Number(offsets[i - 1]) + Number(counts[i - 1] ?? 0)) plain = false;
    }
    if (end > this.size) {
      throw invalidData(
        `${this.where(page.index)}: truncated: pixel data extends to byte ${end} but the file has ${this.size} bytes`,
      );
    }
    const first = Number(offsets[0]);
    const needed = page.width * page.height * (page.bitsPerSample / 8);
    return plain && end - first >= needed ? first : undefined;
  }

  /**
   * Reads `window` of a page into `dst` (row-major, window.height x window.width) as native-endian
   * values of the page's dtype. `dst` may be a view of a SharedArrayBuffer.
   */
  async readPage(page: TiffPage, dst: Uint8Array | Uint16Array, window?: PixelWindow): Promise<void> {
    const w = window ?? { y: 0, x: 0, height: page.height, width: page.width };
    if (dst.length < w.height * w.width) throw new Error("readPage: destination too small for the window");
    const ifd = await this.ifdAt(page.ifdOffset, page.index);
    if (page.compression === 1 && !page.tiled) {
      await this.readRawStrips(ifd, page, dst, w);
    } else {
      await this.decodeWithGeotiff(ifd, page, dst, w);
    }
  }

  private async readRawStrips(
    ifd: ImageFileDirectory,
    page: TiffPage,
    dst: Uint8Array | Uint16Array,
    w: PixelWindow,
  ): Promise<void> {
    const bpp = page.bitsPerSample / 8;
    const rowBytes = page.width * bpp;
    const offsets = await ifd.loadValue("StripOffsets");
    const counts = await ifd.loadValue("StripByteCounts");
    const rowsPerStrip = Math.min(Number(ifd.getValue("RowsPerStrip") ?? page.height), page.height);
    if (!offsets || !counts) throw invalidData(`${this.where(page.index)}: no strip offsets (corrupt TIFF)`);
    const out = new Uint8Array(dst.buffer, dst.byteOffset, w.height * w.width * bpp);
    const fullRows = w.x === 0 && w.width === page.width;
    const scratch = fullRows ? undefined : Buffer.alloc(rowBytes * rowsPerStrip);
    let y = w.y;
    const yEnd = w.y + w.height;
    while (y < yEnd) {
      const strip = Math.floor(y / rowsPerStrip);
      const stripY0 = strip * rowsPerStrip;
      const rows = Math.min(stripY0 + rowsPerStrip, yEnd) - y;
      const fileOffset = Number(offsets[strip]) + (y - stripY0) * rowBytes;
      const available = Number(counts[strip] ?? 0) - (y - stripY0) * rowBytes;
      if (!(fileOffset >= 0) || available < rows * rowBytes) {
        throw invalidData(
          `${this.where(page.index)}: strip ${strip} is shorter than its rows (corrupt TIFF)`,
        );
      }
      if (fullRows) {
        // Consecutive strips that follow each other in the file are read in one call.
        let runRows = rows;
        let next = strip + 1;
        while (y + runRows < yEnd && Number(offsets[next]) === fileOffset + runRows * rowBytes) {
          const more = Math.min(rowsPerStrip, yEnd - (y + runRows));
          if (Number(counts[next] ?? 0) < more * rowBytes) break;
          runRows += more;
          next++;
        }
        this.readExactly(out, (y - w.y) * rowBytes, runRows * rowBytes, fileOffset, page.index);
        y += runRows;
      } else {
        const buf = scratch!;
        this.readExactly(buf, 0, rows * rowBytes, fileOffset, page.index);
        const from = w.x * bpp;
        const len = w.width * bpp;
        for (let r = 0; r < rows; r++) {
          out.set(buf.subarray(r * rowBytes + from, r * rowBytes + from + len), (y - w.y + r) * len);
        }
        y += rows;
      }
    }
    if (bpp === 2 && !this.littleEndian) Buffer.from(out.buffer, out.byteOffset, out.byteLength).swap16();
  }

  private readExactly(dst: Uint8Array, at: number, length: number, position: number, index: number): void {
    let done = 0;
    try {
      while (done < length) {
        const n = fs.readSync(this.fd, dst, at + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw fromFsError(e, this.path, "reading pixel data");
    }
    if (done < length) {
      throw invalidData(
        `${this.where(index)}: truncated: pixel data ends at byte ${position + done} but needs ${position + length - (position + done)} more bytes (file has ${this.size})`,
      );
    }
  }

  private async decodeWithGeotiff(
    ifd: ImageFileDirectory,
    page: TiffPage,
    dst: Uint8Array | Uint16Array,
    w: PixelWindow,
  ): Promise<void> {
    const image = new GeoTIFFImage(ifd, this.littleEndian, false, this.source as never);
    let data: ArrayLike<number>;
    try {
      const raster = await image.readRasters({
        window: [w.x, w.y, w.x + w.width, w.y + w.height],
        interleave: true,
      });
      data = raster as unknown as ArrayLike<number>;
    } catch (e) {
      throw invalidData(
        `${this.where(page.index)}: cannot decode the pixel data (compression ${page.compression}: ${(e as Error).message})`,
        e,
      );
    }
    if (data.length !== w.width * w.height) {
      throw invalidData(
        `${this.where(page.index)}: decoded ${data.length} pixels, expected ${w.width * w.height}`,
      );
    }
    dst.set(data as ArrayLike<number>);
  }

  private async ifdAt(offset: number, index: number): Promise<ImageFileDirectory> {
    if (!(offset >= 8) || offset >= this.size) {
      throw invalidData(
        `${this.where(index)}: page directory at byte ${offset} lies outside the file (truncated?)`,
      );
    }
    try {
      return await this.tiff.parser.parseFileDirectoryAt(offset);
    } catch (e) {
      throw invalidData(`${this.where(index)}: unreadable page directory (${(e as Error).message})`, e);
    }
  }

  private where(index: number): string {
    return index === 0 ? this.path : `${this.path} page ${index}`;
  }
}

/**
 * Reads `window` of a plainly stored page (see `TiffFile.checkExtent`) straight from the file: one
 * read for full-width windows, one per row otherwise; 16-bit big-endian values are swapped in place.
 */
export function readPlainPixels(
  file: string,
  offset: number,
  page: {
    readonly width: number;
    readonly height: number;
    readonly bytesPerPixel: 1 | 2;
    readonly littleEndian: boolean;
  },
  dst: Uint8Array | Uint16Array,
  window?: PixelWindow,
): void {
  const w = window ?? { y: 0, x: 0, height: page.height, width: page.width };
  const bpp = page.bytesPerPixel;
  const rowBytes = page.width * bpp;
  const out = new Uint8Array(dst.buffer, dst.byteOffset, w.height * w.width * bpp);
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw fromFsError(e, file, "reading pixel data");
  }
  try {
    const read = (at: number, length: number, position: number) => {
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, at + done, length - done, position + done);
        if (n === 0) {
          throw invalidData(
            `${file}: truncated: pixel data ends at byte ${position + done} (the file changed?)`,
          );
        }
        done += n;
      }
    };
    if (w.x === 0 && w.width === page.width) {
      read(0, w.height * rowBytes, offset + w.y * rowBytes);
    } else {
      for (let y = 0; y < w.height; y++) {
        read(y * w.width * bpp, w.width * bpp, offset + (w.y + y) * rowBytes + w.x * bpp);
      }
    }
  } catch (e) {
    throw fromFsError(e, file, "reading pixel data");
  } finally {
    fs.closeSync(fd);
  }
  if (bpp === 2 && !page.littleEndian) Buffer.from(out.buffer, out.byteOffset, out.byteLength).swap16();
}

function first(v: unknown, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v === "number" || typeof v === "bigint") return Number(v);
  const a = v as ArrayLike<number>;
  return a.length > 0 ? Number(a[0]) : fallback;
}

function rational(v: unknown): number | undefined {
  const a = v as ArrayLike<number> | undefined;
  if (!a || a.length < 2 || !Number(a[1])) return undefined;
  return Number(a[0]) / Number(a[1]);
}

async function describePage(
  ifd: ImageFileDirectory,
  offset: number,
  index: number,
  where: string,
): Promise<TiffPage> {
  const get = (tag: string) => {
    try {
      return ifd.getValue(tag as never) as unknown;
    } catch {
      return undefined; // a deferred (large) value: not one of the small tags read here
    }
  };
  const width = first(get("ImageWidth"), 0);
  const height = first(get("ImageLength"), 0);
  if (!(width > 0 && height > 0))
    throw invalidData(`${where}: no image size in the page directory (corrupt TIFF)`);
  const x = rational(get("XResolution"));
  const y = rational(get("YResolution"));
  // Stacks describe themselves on their first page (ImageJ, tifffile, OME); later pages are not read.
  const description: unknown = index === 0 ? await ifd.loadValue("ImageDescription" as never) : undefined;
  return {
    index,
    ifdOffset: offset,
    width,
    height,
    bitsPerSample: first(get("BitsPerSample"), 1),
    samplesPerPixel: first(get("SamplesPerPixel"), 1),
    sampleFormat: first(get("SampleFormat"), 1),
    photometric: first(get("PhotometricInterpretation"), 1),
    compression: first(get("Compression"), 1),
    tiled: ifd.hasTag("TileWidth" as never),
    description: typeof description === "string" ? description.replace(/\0+$/, "") : undefined,
    resolution: x && y ? { x, y, unit: first(get("ResolutionUnit"), 2) } : undefined,
  };
}
