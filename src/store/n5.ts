import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { type Coordinate, coord, max, min, sub, uniform } from "../core/coordinate.ts";
import { fromFsError, invalidData, notFound, OrganelleError, unsupported } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import { Roi, type VoxelBox } from "../core/roi.ts";
import { allocate, bytesPerElement, type DType, type VoxelArray, viewOf } from "./dtype.ts";
import type { ArrayKind, MultiscaleLevel } from "./multiscale.ts";
import type { ReadBoxOptions, ReaderMeta, VolumeReader } from "./reader.ts";

/*
 * N5 as the Java library (and COSEM/OpenOrganelle) writes it: every node is a directory with an
 * `attributes.json`; an array's attributes give `dimensions` and `blockSize` in x,y,z order (we reverse
 * them to z,y,x), `dataType` and `compression`; block (gx,gy,gz) lives in the file `gx/gy/gz` and starts
 * with a big-endian header (mode u16, ndim u16, size u32 per axis in x,y,z, and for mode 1 "varlength"
 * an element count u32), followed by the possibly compressed big-endian elements of a block that may be
 * smaller than blockSize at the upper border. A missing block file reads as zeros.
 */

export type N5Compression =
  | { readonly type: "raw" }
  | { readonly type: "gzip" }
  | { readonly type: "zstd" }
  | { readonly type: "blosc"; readonly cname: string; readonly clevel: number; readonly shuffle: number };

export interface N5ArrayHeader {
  /** z,y,x */
  readonly shape: Coordinate;
  /** z,y,x */
  readonly blockSize: Coordinate;
  readonly dtype: DType;
  readonly compression: N5Compression;
}

/** Compressions other N5 writers use that we cannot decode; named so the error can say so. */
const UNSUPPORTED_COMPRESSIONS = new Set(["bzip2", "xz", "lz4", "lzma"]);

const N5_DTYPES: Readonly<Record<string, DType | undefined>> = {
  uint8: "uint8",
  uint16: "uint16",
  uint32: "uint32",
  uint64: "uint64",
  int32: "int32",
  float32: "float32",
  float64: "float64",
};

type Attrs = Record<string, unknown>;

/** Reads a node's attributes.json; undefined when the directory has none (N5 groups may omit it). */
export async function readN5Attributes(dir: string): Promise<Attrs | undefined> {
  const file = path.join(dir, "attributes.json");
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw fromFsError(e, file, "reading N5 attributes");
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Attrs;
  } catch (e) {
    throw invalidData(`${file}: not valid N5 attributes (${(e as Error).message})`, e);
  }
}

export function isN5ArrayAttributes(attrs: Attrs | undefined): boolean {
  return attrs !== undefined && Array.isArray(attrs.dimensions) && "dataType" in attrs;
}

function xyzToZyx(v: unknown, what: string, file: string): Coordinate {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((n) => typeof n === "number" && Number.isFinite(n))) {
    throw invalidData(`${file}: '${what}' must be three numbers (x,y,z); only 3D N5 arrays are supported`);
  }
  return coord(v[2] as number, v[1] as number, v[0] as number);
}

/** Parses the array keys of an N5 attributes.json (file names the source in errors). */
export function parseN5ArrayHeader(attrs: Attrs, file: string): N5ArrayHeader {
  const shape = xyzToZyx(attrs.dimensions, "dimensions", file);
  const blockSize = xyzToZyx(attrs.blockSize, "blockSize", file);
  if (
    !shape.every((s) => Number.isInteger(s) && s >= 0) ||
    !blockSize.every((s) => Number.isInteger(s) && s > 0)
  ) {
    throw invalidData(`${file}: dimensions and blockSize must be non-negative / positive integers`);
  }
  const dt = String(attrs.dataType);
  const dtype = N5_DTYPES[dt];
  if (!dtype) {
    throw unsupported(
      `${file}: N5 dataType '${dt}' is not supported (supported: ${Object.keys(N5_DTYPES).join(", ")})`,
    );
  }
  return { shape, blockSize, dtype, compression: parseCompression(attrs, file) };
}

function parseCompression(attrs: Attrs, file: string): N5Compression {
  // N5 before 2.0 wrote `compressionType: "gzip"` instead of a `compression` object.
  const c = (attrs.compression ?? { type: attrs.compressionType ?? "raw" }) as Attrs;
  const type = String(c.type ?? "raw");
  switch (type) {
    case "raw":
      return { type: "raw" };
    case "gzip":
      return { type: "gzip" };
    case "zstd":
      return { type: "zstd" };
    case "blosc":
      return {
        type: "blosc",
        cname: String(c.cname ?? "lz4"),
        clevel: Number(c.clevel ?? 5),
        shuffle: Number(c.shuffle ?? 1),
      };
  }
  if (UNSUPPORTED_COMPRESSIONS.has(type)) {
    throw unsupported(
      `${file}: N5 compression '${type}' is not supported (organelle reads raw, gzip, blosc and zstd); recompress the array, e.g. with n5-utils or zarr's N5Store, to gzip or blosc`,
    );
  }
  throw unsupported(`${file}: unknown N5 compression '${type}' (organelle reads raw, gzip, blosc and zstd)`);
}

export function compressionLabel(c: N5Compression): string {
  if (c.type !== "blosc") return c.type;
  const shuffle = c.shuffle === 0 ? "noshuffle" : c.shuffle === 2 ? "bitshuffle" : "shuffle";
  return `blosc (${c.cname}, clevel ${c.clevel}, ${shuffle})`;
}

// numcodecs' wasm codecs load lazily; the import is shared by every reader.
let bloscCodec: Promise<typeof import("numcodecs/blosc").default> | undefined;
let zstdCodec: Promise<typeof import("numcodecs/zstd").default> | undefined;

async function decompress(bytes: Uint8Array, c: N5Compression): Promise<Uint8Array> {
  switch (c.type) {
    case "raw":
      return bytes;
    case "gzip":
      // N5 writes gzip streams by default and zlib streams with `useZlib`; the magic bytes tell which.
      return bytes[0] === 0x1f && bytes[1] === 0x8b ? zlib.gunzipSync(bytes) : zlib.inflateSync(bytes);
    case "zstd": {
      zstdCodec ??= import("numcodecs/zstd").then((m) => m.default);
      return (await zstdCodec).fromConfig({ id: "zstd" }).decode(bytes);
    }
    case "blosc": {
      bloscCodec ??= import("numcodecs/blosc").then((m) => m.default);
      return (await bloscCodec).fromConfig({ id: "blosc" }).decode(bytes);
    }
  }
}

export interface DecodedBlock {
  /** z,y,x size of the block as stored (smaller than blockSize at the upper border). */
  readonly shape: Coordinate;
  readonly data: VoxelArray;
}

/** Decodes one N5 block file into native-endian values. `file` names the block in errors. */
export async function decodeN5Block(
  bytes: Uint8Array,
  h: N5ArrayHeader,
  file: string,
): Promise<DecodedBlock> {
  const bad = (what: string) => invalidData(`${file}: corrupt N5 block (${what})`);
  if (bytes.length < 4) throw bad("shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mode = view.getUint16(0);
  if (mode === 2) throw unsupported(`${file}: N5 object-mode blocks are not image data`);
  if (mode !== 0 && mode !== 1) throw bad(`unknown block mode ${mode}`);
  const ndim = view.getUint16(2);
  if (ndim !== 3) throw bad(`${ndim} dimensions where the array has 3`);
  let pos = 4;
  if (bytes.length < pos + 4 * ndim + (mode === 1 ? 4 : 0)) throw bad("truncated header");
  const x = view.getUint32(pos);
  const y = view.getUint32(pos + 4);
  const z = view.getUint32(pos + 8);
  pos += 12;
  const shape = coord(z, y, x);
  let count = x * y * z;
  if (mode === 1) {
    const n = view.getUint32(pos);
    pos += 4;
    if (n < count) throw bad(`varlength block holds ${n} elements for a ${x}x${y}x${z} block`);
    count = n;
  }
  let raw: Uint8Array;
  try {
    raw = await decompress(bytes.subarray(pos), h.compression);
  } catch (e) {
    throw bad(`${h.compression.type} decompression failed: ${(e as Error).message}`);
  }
  const bpe = bytesPerElement(h.dtype);
  const need = x * y * z * bpe;
  if (raw.length < need) throw bad(`${raw.length} bytes of data for a ${x}x${y}x${z} ${h.dtype} block`);
  // A fresh aligned copy that we may byte-swap in place (the decompressor's buffer may be shared).
  const buf = Buffer.alloc(need);
  buf.set(raw.subarray(0, need));
  if (bpe === 2) buf.swap16();
  else if (bpe === 4) buf.swap32();
  else if (bpe === 8) buf.swap64();
  return { shape, data: viewOf(h.dtype, buf.buffer, buf.byteOffset, x * y * z) };
}

/** Where an N5 array's geometry came from; the reader's level list uses the same shape as OME-Zarr's. */
export interface N5Geometry {
  readonly levels: readonly MultiscaleLevel[];
  readonly scale: number;
}

const BLOCK_READ_CONCURRENCY = 8;

/**
 * Reads one N5 array (one scale level). Values outside the array read as `fill`, missing blocks as 0.
 */
export class N5Reader implements VolumeReader {
  readonly dir: string;
  readonly header: N5ArrayHeader;
  readonly meta: ReaderMeta;
  readonly levels: readonly MultiscaleLevel[];
  readonly scale: number;
  readonly attrs: Attrs;

  private constructor(
    dir: string,
    header: N5ArrayHeader,
    attrs: Attrs,
    geometry: N5Geometry,
    kind: ArrayKind,
  ) {
    this.dir = dir;
    this.header = header;
    this.attrs = attrs;
    this.levels = geometry.levels;
    this.scale = geometry.scale;
    const level = geometry.levels[geometry.scale]!;
    this.meta = {
      shape: header.shape,
      dtype: header.dtype,
      chunks: header.blockSize,
      voxelSize: level.voxelSize,
      offset: level.offset,
      compressor: header.compression.type === "raw" ? "none" : header.compression.type,
      kind,
    };
  }

  /**
   * Opens the N5 array at `dir` with the given pyramid geometry (without one, the array's own
   * attributes give voxel size and offset).
   */
  static async open(dir: string, geometry?: N5Geometry, kind?: ArrayKind): Promise<N5Reader> {
    const attrs = await readN5Attributes(dir);
    if (!attrs) {
      if (!fs.existsSync(dir)) throw notFound(`${dir}: no such N5 array`);
      throw invalidData(`${dir}: not an N5 array (no attributes.json)`);
    }
    if (!isN5ArrayAttributes(attrs)) {
      throw invalidData(`${dir}: an N5 group, not an array (its attributes.json has no 'dimensions')`);
    }
    const file = path.join(dir, "attributes.json");
    const header = parseN5ArrayHeader(attrs, file);
    const geo = geometry ?? { levels: [{ path: "", ...arraySpacing(attrs, file) }], scale: 0 };
    return new N5Reader(dir, header, attrs, geo, kind ?? guessKind(header.dtype));
  }

  get roi(): Roi {
    return Roi.fromVoxels(
      { begin: uniform(0), shape: this.meta.shape },
      this.meta.voxelSize,
      this.meta.offset,
    );
  }

  describe(): string {
    return this.dir;
  }

  async readBox(box: VoxelBox, opts: ReadBoxOptions = {}): Promise<VoxelArray> {
    const n = box.shape[0] * box.shape[1] * box.shape[2];
    const out = allocate(this.meta.dtype, n);
    const fill = opts.fill ?? 0;
    const boxEnd = coord(
      box.begin[0] + box.shape[0],
      box.begin[1] + box.shape[1],
      box.begin[2] + box.shape[2],
    );
    const lo = max(box.begin, uniform(0));
    const hi = min(boxEnd, this.meta.shape);
    if (fill !== 0) {
      // Outside the array is `fill`; inside it, a missing block is 0, so zero the inside afterwards.
      if (out instanceof BigUint64Array) out.fill(BigInt(fill));
      else out.fill(fill);
    }
    if (hi.some((h, d) => h <= lo[d]!)) return out;
    if (fill !== 0) zeroBox(out, box.shape, sub(lo, box.begin), sub(hi, lo));
    const bs = this.header.blockSize;
    const g0 = coord(Math.floor(lo[0] / bs[0]), Math.floor(lo[1] / bs[1]), Math.floor(lo[2] / bs[2]));
    const g1 = coord(Math.ceil(hi[0] / bs[0]), Math.ceil(hi[1] / bs[1]), Math.ceil(hi[2] / bs[2]));
    const grid: Coordinate[] = [];
    for (let z = g0[0]; z < g1[0]; z++)
      for (let y = g0[1]; y < g1[1]; y++) for (let x = g0[2]; x < g1[2]; x++) grid.push(coord(z, y, x));
    let next = 0;
    const worker = async () => {
      while (next < grid.length) {
        const g = grid[next++]!;
        if (opts.signal?.aborted) throw new OrganelleError("Aborted", `${this.dir}: read cancelled`);
        await this.copyBlock(g, out, box, lo, hi);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BLOCK_READ_CONCURRENCY, grid.length) }, worker));
    return out;
  }

  /** Copies the part of block `g` (z,y,x grid index) inside [lo, hi) into `out`. */
  private async copyBlock(g: Coordinate, out: VoxelArray, box: VoxelBox, lo: Coordinate, hi: Coordinate) {
    const file = path.join(this.dir, String(g[2]), String(g[1]), String(g[0]));
    let bytes: Uint8Array;
    try {
      bytes = await fs.promises.readFile(file);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return;
      throw fromFsError(e, file, "reading an N5 block");
    }
    const block = await decodeN5Block(bytes, this.header, file);
    const bs = this.header.blockSize;
    const origin = coord(g[0] * bs[0], g[1] * bs[1], g[2] * bs[2]);
    const end = min(
      coord(origin[0] + block.shape[0], origin[1] + block.shape[1], origin[2] + block.shape[2]),
      hi,
    );
    const start = max(origin, lo);
    const size = sub(end, start);
    if (size.some((s) => s <= 0)) return;
    copyBox3d(block.data, block.shape, sub(start, origin), out, box.shape, sub(start, box.begin), size);
  }
}

function zeroBox(out: VoxelArray, shape: Coordinate, begin: Coordinate, size: Coordinate): void {
  const plane = shape[1] * shape[2];
  for (let z = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++) {
      const i = (begin[0] + z) * plane + (begin[1] + y) * shape[2] + begin[2];
      if (out instanceof BigUint64Array) out.fill(0n, i, i + size[2]);
      else out.fill(0, i, i + size[2]);
    }
  }
}

/** N5 carries no array kind; wide integer types are (COSEM) segmentations, the rest intensities. */
export function guessKind(dtype: DType): ArrayKind {
  return dtype === "uint32" || dtype === "uint64" || dtype === "int32" ? "label" : "intensity";
}

// ---------------------------------------------------------------------------------------------------
// Spatial metadata. COSEM writes, on each array, `transform` {axes, units, scale, translate} (axes named,
// order "C" by default) and `pixelResolution` {dimensions (x,y,z), unit}; on the multiscale group the same
// per level under multiscales[0].datasets[].transform, plus n5-viewer's `scales` (x,y,z factors per level)
// and `pixelResolution` of s0. Older tools write `resolution` (x,y,z) and per-level `downsamplingFactors`.
// `translate` is the position of the first voxel's centre; like OME-NGFF it moves by (f-1)/2 base voxels on
// a level downsampled by f, so the corner offset we keep is translate - (scale - base)/2 (see multiscale.ts).
// ---------------------------------------------------------------------------------------------------

const UNIT_TO_NM: Readonly<Record<string, number>> = {
  nm: 1,
  nanometer: 1,
  nanometers: 1,
  nanometre: 1,
  um: 1000,
  "\u00b5m": 1000,
  "\u03bcm": 1000,
  micrometer: 1000,
  micrometers: 1000,
  micrometre: 1000,
  micron: 1000,
  microns: 1000,
  mm: 1e6,
  millimeter: 1e6,
  angstrom: 0.1,
  "\u00e5": 0.1,
  pm: 1e-3,
  picometer: 1e-3,
};

function unitFactor(unit: unknown, file: string): number {
  if (unit === undefined || unit === null || unit === "") return 1;
  const f = UNIT_TO_NM[String(unit).toLowerCase()];
  if (f === undefined) throw unsupported(`${file}: unknown length unit '${String(unit)}' (use nm or um)`);
  return f;
}

function numbers3(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === "number" && Number.isFinite(n))
    ? (v as number[])
    : undefined;
}

interface Spacing {
  voxelSize?: Coordinate;
  /** Position of the first voxel's centre (COSEM translate), nm. */
  translate?: Coordinate;
}

/** Reads a COSEM `transform` into z,y,x nm. */
function parseTransform(t: unknown, file: string): Spacing {
  const o = t as { axes?: unknown; units?: unknown; scale?: unknown; translate?: unknown; order?: unknown };
  if (!o || typeof o !== "object") return {};
  const scale = numbers3(o.scale);
  if (!scale) return {};
  const translate = numbers3(o.translate) ?? [0, 0, 0];
  const units = Array.isArray(o.units) ? o.units : [];
  // Axis names decide the order when they are x, y and z; otherwise `order` does ("C" = z,y,x).
  const axes = Array.isArray(o.axes) ? o.axes.map((a) => String(a).toLowerCase()) : [];
  let perm = [0, 1, 2];
  if (["z", "y", "x"].every((a) => axes.includes(a))) perm = ["z", "y", "x"].map((a) => axes.indexOf(a));
  else if (o.order === "F") perm = [2, 1, 0];
  const nm = (i: number) => unitFactor(units[i], file);
  const pick = (v: number[]) => coord(...(perm.map((i) => v[i]! * nm(i)) as [number, number, number]));
  return { voxelSize: pick(scale), translate: pick(translate) };
}

/** pixelResolution {dimensions, unit} or resolution, both x,y,z. */
function parseResolution(attrs: Attrs, file: string): Coordinate | undefined {
  const pr = attrs.pixelResolution as { dimensions?: unknown; unit?: unknown } | undefined;
  const dims = numbers3(pr?.dimensions);
  if (dims) {
    const f = unitFactor(pr?.unit, file);
    return coord(dims[2]! * f, dims[1]! * f, dims[0]! * f);
  }
  const res = numbers3(attrs.resolution);
  return res ? coord(res[2]!, res[1]!, res[0]!) : undefined;
}

function factorsZyx(v: unknown): Coordinate | undefined {
  const f = numbers3(v);
  return f ? coord(f[2]!, f[1]!, f[0]!) : undefined;
}

/** Voxel size and corner offset of a lone array from its own attributes (1 nm, origin 0 when absent). */
export function arraySpacing(attrs: Attrs, file: string): { voxelSize: Coordinate; offset: Coordinate } {
  const t = parseTransform(attrs.transform, file);
  const voxelSize = t.voxelSize ?? parseResolution(attrs, file) ?? uniform(1);
  return { voxelSize, offset: t.translate ?? uniform(0) };
}

/** True if the attributes mark an N5 group as a multiscale pyramid. */
export function isN5MultiscaleGroup(attrs: Attrs | undefined): boolean {
  if (!attrs || isN5ArrayAttributes(attrs)) return false;
  return "multiscales" in attrs || "scales" in attrs || "downsamplingFactors" in attrs;
}

/**
 * The levels of an N5 multiscale group (COSEM, n5-viewer or BDV style); a group without such
 * attributes but with arrays s0, s1, ... is read as a pyramid too.
 */
export async function readN5Levels(groupDir: string): Promise<MultiscaleLevel[]> {
  const file = path.join(groupDir, "attributes.json");
  const g = (await readN5Attributes(groupDir)) ?? {};
  const ms = (g.multiscales as { datasets?: { path?: unknown; transform?: unknown }[] }[] | undefined)?.[0];
  let entries: { path: string; transform?: unknown }[];
  if (ms?.datasets?.length) {
    entries = ms.datasets.map((d) => ({ path: String(d.path), transform: d.transform }));
  } else {
    const counted = Array.isArray(g.scales)
      ? g.scales.length
      : Array.isArray(g.downsamplingFactors)
        ? g.downsamplingFactors.length
        : undefined;
    const names =
      counted !== undefined ? Array.from({ length: counted }, (_, i) => `s${i}`) : await scaleDirs(groupDir);
    entries = names.map((p) => ({ path: p }));
  }
  if (entries.length === 0) throw invalidData(`${groupDir}: an N5 group without scale levels (no s0)`);
  const groupRes = parseResolution(g, file);
  const spacings: Spacing[] = [];
  for (const [i, e] of entries.entries()) {
    const levelDir = path.join(groupDir, e.path);
    const levelFile = path.join(levelDir, "attributes.json");
    const a = await readN5Attributes(levelDir);
    if (!isN5ArrayAttributes(a)) throw invalidData(`${groupDir}: scale level '${e.path}' is not an N5 array`);
    let s = parseTransform(e.transform, file);
    if (!s.voxelSize) s = parseTransform(a!.transform, levelFile);
    if (!s.voxelSize) {
      const own = parseResolution(a!, levelFile);
      const factors =
        factorsZyx(a!.downsamplingFactors) ??
        factorsZyx((g.scales as unknown[] | undefined)?.[i]) ??
        factorsZyx((g.downsamplingFactors as unknown[] | undefined)?.[i]) ??
        uniform(1);
      // A level's own pixelResolution is already its voxel size; a group's is that of s0.
      const vs = own && !("downsamplingFactors" in a!) ? own : groupRes ? mulC(groupRes, factors) : undefined;
      s = vs ? { voxelSize: vs } : {};
    }
    spacings.push(s);
  }
  const base = spacings[0]!.voxelSize ?? uniform(1);
  return entries.map((e, i) => {
    const s = spacings[i]!;
    const voxelSize = s.voxelSize ?? mulC(base, uniform(2 ** i));
    const t = s.translate ?? spacings[0]!.translate;
    const offset = t
      ? coord(
          t[0] - (s.translate ? (voxelSize[0] - base[0]) / 2 : 0),
          t[1] - (s.translate ? (voxelSize[1] - base[1]) / 2 : 0),
          t[2] - (s.translate ? (voxelSize[2] - base[2]) / 2 : 0),
        )
      : uniform(0);
    return { path: e.path, voxelSize, offset };
  });
}

function mulC(a: Coordinate, b: Coordinate): Coordinate {
  return coord(a[0] * b[0], a[1] * b[1], a[2] * b[2]);
}

async function scaleDirs(groupDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(groupDir);
  } catch (e) {
    throw fromFsError(e, groupDir, "listing an N5 group");
  }
  const levels = names
    .filter((n) => /^s\d+$/.test(n))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  // Only a contiguous s0, s1, ... run counts as a pyramid.
  return levels.filter((n, i) => n === `s${i}`);
}

/** Opens one level of an N5 multiscale group. */
export async function openN5Multiscale(groupDir: string, scale = 0): Promise<N5Reader> {
  const levels = await readN5Levels(groupDir);
  const level = levels[scale];
  if (!level) throw notFound(`${groupDir} has no scale level ${scale} (levels: 0..${levels.length - 1})`);
  return N5Reader.open(path.join(groupDir, level.path), { levels, scale });
}
