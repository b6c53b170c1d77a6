import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { decode as decodePng } from "fast-png";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, invalidData, notFound, unsupported } from "../core/errors.ts";
import {
  type PixelWindow,
  pageDType,
  readPlainPixels,
  type SliceDType,
  TiffFile,
  type TiffPage,
} from "./tiff-read.ts";

/*
 * A stack of 2D slices to import: a directory of TIFF/PNG files (one slice each) or one multi-page
 * TIFF. Everything is checked before any pixel is read (order, numbering, sizes, pixel types,
 * truncation), so a bad stack fails in seconds with one line naming the file, not after an hour.
 * Reading then goes slice by slice into a caller's buffer; nothing here holds more than one slice.
 */

export type StackKind = "slices" | "multipage";

export interface StackInfo {
  /** The source as given, resolved to an absolute path. */
  readonly path: string;
  readonly kind: StackKind;
  /** z, y, x in voxels. */
  readonly shape: Coordinate;
  readonly dtype: SliceDType;
  /** Slice files in z order (slices), or the one multi-page file. */
  readonly files: readonly string[];
  /** Voxel size (nm, z,y,x) found in metadata we trust, and where it came from. */
  readonly voxelSize: { readonly value: Coordinate; readonly from: string } | undefined;
  /** Changes when any input file's name, size or modification time changes (resume keys). */
  readonly fingerprint: string;
}

export interface StackOptions {
  /** Regular expression on file names with one capture group for the slice number. */
  pattern?: string;
}

const IMAGE_EXT = /\.(tiff?|png)$/i;

/**
 * Compares file names the way people number slices: "img2" < "img10" (digit runs by value, text
 * without regard to case); names equal by that rule fall back to plain string order, so the order is
 * total and deterministic.
 */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const nx = x.replace(/^0+/, "");
      const ny = y.replace(/^0+/, "");
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      continue;
    }
    const lx = x.toLowerCase();
    const ly = y.toLowerCase();
    if (lx !== ly) return lx < ly ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Numbered {
  readonly name: string;
  readonly number: number | undefined;
}

/** Compresses sorted integers to "3, 7-12, 20". */
function ranges(ns: readonly number[], limit = 12): string {
  const parts: string[] = [];
  for (let i = 0; i < ns.length; ) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    parts.push(i === j ? `${ns[i]}` : `${ns[i]}-${ns[j]}`);
    i = j + 1;
  }
  return parts.length > limit
    ? `${parts.slice(0, limit).join(", ")} and ${parts.length - limit} more ranges`
    : parts.join(", ");
}

/**
 * Checks that slice numbers run from their minimum to their maximum without gaps or repeats; the
 * error names every missing number (as ranges) and every repeated one with its files.
 */
export function checkNumbering(dir: string, files: readonly Numbered[], how: string): void {
  const byNumber = new Map<number, string[]>();
  for (const f of files) {
    if (f.number === undefined) continue;
    const list = byNumber.get(f.number);
    if (list) list.push(f.name);
    else byNumber.set(f.number, [f.name]);
  }
  if (byNumber.size === 0) return;
  const numbers = [...byNumber.keys()].sort((a, b) => a - b);
  const lo = numbers[0]!;
  const hi = numbers[numbers.length - 1]!;
  const missing: number[] = [];
  for (let n = lo, i = 0; n <= hi; n++) {
    if (numbers[i] === n) i++;
    else missing.push(n);
  }
  const dups = numbers.filter((n) => byNumber.get(n)!.length > 1);
  if (missing.length === 0 && dups.length === 0) return;
  const problems: string[] = [];
  if (missing.length > 0) {
    problems.push(`${missing.length === 1 ? "slice" : "slices"} ${ranges(missing)} missing`);
  }
  for (const n of dups.slice(0, 5)) {
    const names = byNumber.get(n)!;
    const times = names.length === 2 ? "twice" : `${names.length} times`;
    problems.push(`slice ${n} appears ${times} (${names.join(", ")})`);
  }
  if (dups.length > 5) problems.push(`and ${dups.length - 5} more repeated numbers`);
  throw invalidData(
    `${dir}: ${problems.join("; ")} (slice numbers ${how}, ${lo}..${hi}); fix the stack or pick the files with --pattern`,
  );
}

function compilePattern(pattern: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw invalidArgument(
      `--pattern '${pattern}' is not a valid regular expression (${(e as Error).message})`,
    );
  }
  const groups = (new RegExp(`${pattern}|`).exec("") ?? []).length - 1;
  if (groups < 1) {
    throw invalidArgument(
      `--pattern '${pattern}' has no capture group; put the slice number in one, e.g. 'slice_(\\d+)\\.tif'`,
    );
  }
  return re;
}

/** The slice number of each file: the pattern's capture group, or the digit run that varies. */
function numberFiles(names: string[], pattern: RegExp | undefined): Numbered[] {
  if (pattern) {
    const out: Numbered[] = [];
    for (const name of names) {
      const m = pattern.exec(name);
      if (!m) continue;
      const g = m.groups?.n ?? m.slice(1).find((s) => s !== undefined);
      const n = g !== undefined && /^\d+$/.test(g) ? Number(g) : undefined;
      if (n === undefined) {
        throw invalidArgument(
          `--pattern matched '${name}' but its capture group holds '${g ?? ""}', not a slice number`,
        );
      }
      out.push({ name, number: n });
    }
    return out.sort((a, b) => a.number! - b.number! || naturalCompare(a.name, b.name));
  }
  const sorted = [...names].sort(naturalCompare);
  const runs = sorted.map((n) => n.replace(IMAGE_EXT, "").match(/\d+/g) ?? []);
  const count = runs[0]?.length ?? 0;
  if (count === 0 || runs.some((r) => r.length !== count))
    return sorted.map((name) => ({ name, number: undefined }));
  // The last digit run whose value differs between files is the slice number ("cell2_0001" -> 0001).
  for (let k = count - 1; k >= 0; k--) {
    const values = runs.map((r) => Number(r[k]));
    if (values.some((v) => v !== values[0]) || sorted.length === 1) {
      return sorted.map((name, i) => ({ name, number: values[i] }));
    }
  }
  return sorted.map((name) => ({ name, number: undefined }));
}

interface SliceHeader {
  readonly width: number;
  readonly height: number;
  readonly dtype: SliceDType;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function describePngType(colorType: number, depth: number): string {
  const kinds: Record<number, string> = {
    0: "greyscale",
    2: "RGB",
    3: "palette colour",
    4: "greyscale with alpha",
    6: "RGBA",
  };
  return `${depth}-bit ${kinds[colorType] ?? `colour type ${colorType}`}`;
}

/** Reads a PNG's IHDR and checks the file ends with IEND (a cheap test for truncated copies). */
function pngHeader(file: string): SliceHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw fromFsError(e, file, "opening the PNG file");
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(33);
    const n = fs.readSync(fd, head, 0, 33, 0);
    if (n < 33 || !head.subarray(0, 8).equals(PNG_SIGNATURE) || head.toString("latin1", 12, 16) !== "IHDR") {
      throw invalidData(`${file}: not a PNG file (no PNG signature and header); is it an image at all?`);
    }
    const width = head.readUInt32BE(16);
    const height = head.readUInt32BE(20);
    const depth = head[24]!;
    const colorType = head[25]!;
    const tail = Buffer.alloc(8);
    fs.readSync(fd, tail, 0, 8, Math.max(0, size - 8));
    if (tail.toString("latin1", 0, 4) !== "IEND") {
      throw invalidData(`${file}: truncated PNG (the file does not end with the IEND chunk)`);
    }
    if (colorType !== 0 || (depth !== 8 && depth !== 16)) {
      throw unsupported(
        `${file}: pixels are ${describePngType(colorType, depth)}; organelle imports 8- or 16-bit unsigned greyscale (convert the stack first, e.g. Fiji: Image > Type > 8-bit or 16-bit)`,
      );
    }
    return { width, height, dtype: depth === 8 ? "uint8" : "uint16" };
  } finally {
    fs.closeSync(fd);
  }
}

async function readPngInto(file: string, dst: Uint8Array | Uint16Array, w: PixelWindow): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    throw fromFsError(e, file, "reading the PNG file");
  }
  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(bytes);
  } catch (e) {
    throw invalidData(`${file}: cannot decode the PNG (${(e as Error).message})`, e);
  }
  if (png.channels !== 1 || png.data.BYTES_PER_ELEMENT !== dst.BYTES_PER_ELEMENT) {
    throw invalidData(
      `${file}: decoded to ${png.channels} channels of ${png.depth} bits, expected greyscale`,
    );
  }
  const data = png.data as Uint8Array | Uint16Array;
  for (let y = 0; y < w.height; y++) {
    const s = (w.y + y) * png.width + w.x;
    (dst as Uint8Array).set((data as Uint8Array).subarray(s, s + w.width), y * w.width);
  }
}

function isPng(file: string): boolean {
  return /\.png$/i.test(file);
}

interface TiffSlice {
  readonly header: SliceHeader;
  readonly first: TiffPage;
  /** File offset of plainly stored pixels (see TiffFile.checkExtent), or undefined. */
  readonly plain: number | undefined;
  readonly littleEndian: boolean;
}

async function tiffSliceHeader(file: string): Promise<TiffSlice> {
  const tiff = await TiffFile.open(file);
  try {
    const pages = tiff.pages();
    const first = (await pages.next()).value as TiffPage | undefined;
    if (!first) throw invalidData(`${file}: the TIFF has no image page`);
    const dtype = pageDType(first, file);
    if (!(await pages.next()).done) {
      throw invalidData(
        `${file}: has several pages; a directory of slices needs one image per file (import a multi-page TIFF by its file name)`,
      );
    }
    const plain = await tiff.checkExtent(first);
    return {
      header: { width: first.width, height: first.height, dtype },
      first,
      plain,
      littleEndian: tiff.littleEndian,
    };
  } finally {
    tiff.close();
  }
}

function sameHeaderOrThrow(file: string, h: SliceHeader, ref: SliceHeader, refName: string): void {
  if (h.width !== ref.width || h.height !== ref.height) {
    throw invalidData(
      `${file}: mixed slice sizes: this slice is ${h.width} x ${h.height} (width x height) but ${refName} is ${ref.width} x ${ref.height}; every slice must have the same size`,
    );
  }
  if (h.dtype !== ref.dtype) {
    throw invalidData(
      `${file}: mixed bit depths: this slice is ${h.dtype} but ${refName} is ${ref.dtype}; every slice must have the same bit depth`,
    );
  }
}

/** Voxel size (nm) from metadata written by organelle or by ImageJ/Fiji (which records z spacing). */
export function trustedVoxelSize(page: TiffPage): { value: Coordinate; from: string } | undefined {
  const d = page.description;
  if (!d) return undefined;
  if (d.startsWith("{")) {
    try {
      const vs = (JSON.parse(d) as { organelle?: { voxel_size_nm?: unknown } }).organelle?.voxel_size_nm;
      if (Array.isArray(vs) && vs.length === 3 && vs.every((v) => typeof v === "number" && v > 0)) {
        return { value: coord(vs[0], vs[1], vs[2]), from: "organelle's TIFF metadata" };
      }
    } catch {
      return undefined;
    }
    return undefined;
  }
  if (d.startsWith("ImageJ=") && page.resolution) {
    const kv = new Map(
      d.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
    );
    const unit = (kv.get("unit") ?? "").replace(/\\u00B5/gi, "µ");
    const scale = unit === "nm" ? 1 : ["micron", "um", "µm"].includes(unit) ? 1000 : undefined;
    const spacing = Number(kv.get("spacing"));
    if (scale && spacing > 0 && page.resolution.x > 0 && page.resolution.y > 0) {
      return {
        value: coord(spacing * scale, scale / page.resolution.y, scale / page.resolution.x),
        from: "ImageJ metadata (unit, spacing, resolution)",
      };
    }
  }
  return undefined;
}

/** A validated stack, ready to read slice by slice. */
export class SliceStack {
  readonly info: StackInfo;
  /** Multi-page: IFD offsets of the pages in z order. */
  private readonly pageOffsets: readonly number[];
  private multipage: TiffFile | undefined;
  /**
   * Per slice, the file offset of plainly stored pixels (NaN otherwise) and whether the file is
   * big-endian: such slices are read with one read call, without parsing the TIFF again.
   */
  private readonly plain: Float64Array;
  private readonly bigEndian: Uint8Array;

  private constructor(
    info: StackInfo,
    pageOffsets: readonly number[],
    multipage: TiffFile | undefined,
    plain: Float64Array,
    bigEndian: Uint8Array,
  ) {
    this.info = info;
    this.pageOffsets = pageOffsets;
    this.multipage = multipage;
    this.plain = plain;
    this.bigEndian = bigEndian;
  }

  /** Finds, orders and validates the slices of `src` (a directory or a TIFF/PNG file). */
  static async open(src: string, opts: StackOptions = {}): Promise<SliceStack> {
    const abs = path.resolve(src);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch (e) {
      throw fromFsError(e, src, "opening the image stack");
    }
    if (stat.isDirectory()) return SliceStack.openDirectory(abs, opts);
    if (opts.pattern !== undefined) {
      throw invalidArgument(`--pattern applies to a directory of slices; ${src} is a file`);
    }
    return SliceStack.openFile(abs, stat);
  }

  private static async openDirectory(dir: string, opts: StackOptions): Promise<SliceStack> {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      throw fromFsError(e, dir, "listing the slices");
    }
    const pattern = opts.pattern === undefined ? undefined : compilePattern(opts.pattern);
    const names = entries
      .filter((e) => !e.name.startsWith(".") && (e.isFile() || e.isSymbolicLink()))
      .map((e) => e.name)
      .filter((n) => (pattern ? true : IMAGE_EXT.test(n)));
    const numbered = numberFiles(names, pattern);
    if (numbered.length === 0) {
      throw notFound(
        pattern
          ? `${dir}: no file name matches --pattern '${opts.pattern}'`
          : `${dir}: no .tif, .tiff or .png slices in this directory`,
      );
    }
    checkNumbering(
      dir,
      numbered,
      pattern ? `from --pattern` : "read from the file names; use --pattern to say where the number is",
    );
    const files = numbered.map((f) => path.join(dir, f.name));
    const plain = new Float64Array(files.length).fill(Number.NaN);
    const bigEndian = new Uint8Array(files.length);
    const hash = createHash("sha256").update(`slices\0${dir}\0`);
    let ref: SliceHeader | undefined;
    let voxelSize: StackInfo["voxelSize"];
    for (const [z, file] of files.entries()) {
      let header: SliceHeader;
      if (isPng(file)) {
        header = pngHeader(file);
      } else {
        const t = await tiffSliceHeader(file);
        header = t.header;
        if (!ref) voxelSize = trustedVoxelSize(t.first);
        if (t.plain !== undefined) plain[z] = t.plain;
        bigEndian[z] = t.littleEndian ? 0 : 1;
      }
      if (ref) sameHeaderOrThrow(file, header, ref, path.basename(files[0]!));
      else ref = header;
      const st = fs.statSync(file);
      hash.update(`${path.basename(file)}\0${st.size}\0${st.mtimeMs}\n`);
    }
    const info: StackInfo = {
      path: dir,
      kind: "slices",
      shape: coord(files.length, ref!.height, ref!.width),
      dtype: ref!.dtype,
      files,
      // A voxel size in one slice's metadata says nothing trustworthy about z unless it names all three.
      voxelSize,
      fingerprint: hash.digest("hex").slice(0, 24),
    };
    return new SliceStack(info, [], undefined, plain, bigEndian);
  }

  private static async openFile(file: string, stat: fs.Stats): Promise<SliceStack> {
    const hash = createHash("sha256").update(`file\0${file}\0${stat.size}\0${stat.mtimeMs}`);
    if (isPng(file)) {
      const h = pngHeader(file);
      const info: StackInfo = {
        path: file,
        kind: "slices",
        shape: coord(1, h.height, h.width),
        dtype: h.dtype,
        files: [file],
        voxelSize: undefined,
        fingerprint: hash.digest("hex").slice(0, 24),
      };
      return new SliceStack(info, [], undefined, new Float64Array([Number.NaN]), new Uint8Array(1));
    }
    if (!/\.tiff?$/i.test(file)) {
      throw unsupported(
        `${file}: not a .tif, .tiff or .png file; give a TIFF stack or a directory of slices`,
      );
    }
    const tiff = await TiffFile.open(file);
    try {
      const offsets: number[] = [];
      const plainPages: number[] = [];
      let ref: TiffPage | undefined;
      let dtype: SliceDType = "uint8";
      for await (const page of tiff.pages()) {
        const where = page.index === 0 ? file : `${file} page ${page.index}`;
        const d = pageDType(page, where);
        if (!ref) {
          ref = page;
          dtype = d;
        } else {
          sameHeaderOrThrow(
            where,
            { width: page.width, height: page.height, dtype: d },
            { width: ref.width, height: ref.height, dtype },
            "page 0",
          );
        }
        plainPages.push((await tiff.checkExtent(page)) ?? Number.NaN);
        offsets.push(page.ifdOffset);
      }
      if (!ref) throw invalidData(`${file}: the TIFF has no image page`);
      const info: StackInfo = {
        path: file,
        kind: offsets.length > 1 ? "multipage" : "slices",
        shape: coord(offsets.length, ref.height, ref.width),
        dtype,
        files: [file],
        voxelSize: trustedVoxelSize(ref),
        fingerprint: hash.digest("hex").slice(0, 24),
      };
      const bigEndian = new Uint8Array(offsets.length).fill(tiff.littleEndian ? 0 : 1);
      return new SliceStack(info, offsets, tiff, Float64Array.from(plainPages), bigEndian);
    } catch (e) {
      tiff.close();
      throw e;
    }
  }

  /** Bytes per pixel. */
  get bytesPerPixel(): 1 | 2 {
    return this.info.dtype === "uint8" ? 1 : 2;
  }

  /** Reads slice `z` (0-based, z order) restricted to `window` into `dst` (window.height x window.width). */
  async readSlice(z: number, dst: Uint8Array | Uint16Array, window?: PixelWindow): Promise<void> {
    const [nz, ny, nx] = this.info.shape;
    if (!(z >= 0 && z < nz)) throw invalidArgument(`slice ${z} is outside the stack (0..${nz - 1})`);
    const w = window ?? { y: 0, x: 0, height: ny, width: nx };
    const plain = this.plain[z]!;
    if (!Number.isNaN(plain)) {
      const page = {
        width: nx,
        height: ny,
        bytesPerPixel: this.bytesPerPixel,
        littleEndian: this.bigEndian[z] === 0,
      };
      readPlainPixels(this.info.files[this.multipage ? 0 : z]!, plain, page, dst, w);
      return;
    }
    if (this.multipage) {
      const page = await this.multipage.pageAt(this.pageOffsets[z]!, z);
      await this.multipage.readPage(page, dst, w);
      return;
    }
    const file = this.info.files[z]!;
    if (isPng(file)) {
      await readPngInto(file, dst, w);
      return;
    }
    const tiff = await TiffFile.open(file);
    try {
      const page = (await tiff.pages().next()).value as TiffPage | undefined;
      if (!page || page.width !== nx || page.height !== ny) {
        throw invalidData(`${file}: changed while importing (its size is no longer ${nx} x ${ny})`);
      }
      await tiff.readPage(page, dst, w);
    } finally {
      tiff.close();
    }
  }

  close(): void {
    this.multipage?.close();
    this.multipage = undefined;
  }
}
