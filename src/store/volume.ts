import * as fs from "node:fs";
import * as path from "node:path";
import FileSystemStore from "@zarrita/storage/fs";
import * as zarr from "zarrita";
import { type Coordinate, coord, coordFrom, max, min, sub, uniform } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, invalidData, notFound, OrganelleError } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import { Roi, type VoxelBox } from "../core/roi.ts";
import { validateVoxelSize } from "../core/voxel-size.ts";
import { registerNodeCodecs } from "./codecs.ts";
import { allocate, type DType, fromZarrDType, toZarrV2DType, type VoxelArray } from "./dtype.ts";
import {
  type ArrayKind,
  type MultiscaleLevel,
  type OrganelleAttrs,
  readMultiscaleGroup,
  writeMultiscaleGroup,
} from "./multiscale.ts";

registerNodeCodecs();

export type Compressor = "zstd" | "blosc" | "gzip" | "none";
export type OmeVersion = "0.4" | "0.5";

export const DEFAULT_CHUNK = 128;

export interface CreateVolumeOptions {
  shape: Coordinate;
  dtype: DType;
  voxelSize: Coordinate;
  /** World position (nm) of the corner of voxel (0,0,0). */
  offset?: Coordinate;
  chunks?: Coordinate;
  compressor?: Compressor;
  /** Compression level (zstd 1..22, blosc clevel 1..9, gzip 1..9). */
  level?: number;
  /** OME-Zarr 0.4 is Zarr v2, 0.5 is Zarr v3. */
  format?: OmeVersion;
  kind?: ArrayKind;
  /** Extra attributes kept under the group's `organelle` key. */
  attrs?: Record<string, unknown>;
  /** Replace an existing array at that path. Without it an existing array is an error. */
  overwrite?: boolean;
}

export interface VolumeMeta {
  readonly shape: Coordinate;
  readonly dtype: DType;
  readonly chunks: Coordinate;
  readonly voxelSize: Coordinate;
  readonly offset: Coordinate;
  readonly compressor: Compressor;
  readonly format: OmeVersion;
  readonly kind: ArrayKind;
}

export interface OpenVolumeOptions {
  /** Pyramid level (0 = full resolution). */
  scale?: number;
  /** Open arrays whose writing has not finished (their `complete` marker is false). */
  allowIncomplete?: boolean;
}

type ZArray = zarr.Array<zarr.DataType, FileSystemStore>;

/**
 * One scale level of a multiscale OME-Zarr image or label array inside a dataset container.
 * Reads outside the array return zeros; all positions are voxel boxes of this level or world ROIs.
 */
export class Volume {
  readonly datasetPath: string;
  readonly arrayPath: string;
  readonly scale: number;
  readonly meta: VolumeMeta;
  readonly levels: readonly MultiscaleLevel[];
  readonly attrs: OrganelleAttrs;
  private readonly arr: ZArray;

  private constructor(
    datasetPath: string,
    arrayPath: string,
    scale: number,
    meta: VolumeMeta,
    levels: readonly MultiscaleLevel[],
    attrs: OrganelleAttrs,
    arr: ZArray,
  ) {
    this.datasetPath = datasetPath;
    this.arrayPath = arrayPath;
    this.scale = scale;
    this.meta = meta;
    this.levels = levels;
    this.attrs = attrs;
    this.arr = arr;
  }

  /** The world ROI covered by this level. */
  get roi(): Roi {
    return Roi.fromVoxels(
      { begin: uniform(0), shape: this.meta.shape },
      this.meta.voxelSize,
      this.meta.offset,
    );
  }

  get voxelCount(): number {
    return this.meta.shape[0] * this.meta.shape[1] * this.meta.shape[2];
  }

  /** The voxel box of a world ROI (which must lie on this level's grid). */
  boxOf(roi: Roi): VoxelBox {
    return roi.toVoxels(this.meta.voxelSize, this.meta.offset);
  }

  /** Reads a box of voxels (C-order z,y,x); parts outside the array are `fill`. */
  async readBox(
    box: VoxelBox,
    opts: { signal?: AbortSignal; fill?: number; shared?: boolean } = {},
  ): Promise<VoxelArray> {
    const n = box.shape[0] * box.shape[1] * box.shape[2];
    const out = allocate(this.meta.dtype, n, opts.shared ?? false);
    const fill = opts.fill ?? 0;
    const lo = max(box.begin, uniform(0));
    const hi = min(coordFrom(box.begin.map((b, d) => b + box.shape[d]!)), this.meta.shape);
    const inside = sub(hi, lo);
    const fullyInside = inside.every((v, d) => v === box.shape[d]);
    if (!fullyInside && fill !== 0) {
      if (out instanceof BigUint64Array) out.fill(BigInt(fill));
      else out.fill(fill);
    }
    if (inside.some((v) => v <= 0)) return out;
    const sel = [0, 1, 2].map((d) => zarr.slice(lo[d]!, hi[d]!));
    let chunk: { data: unknown; shape: number[]; stride: number[] };
    try {
      const whole = fullyInside && !opts.shared ? await this.wholeChunk(box) : undefined;
      if (whole) return whole;
      chunk = (await zarr._zarrita_internal_get(
        this.arr,
        sel,
        { signal: opts.signal },
        boxSetter as never,
      )) as typeof chunk;
    } catch (e) {
      throw this.wrap(e, "reading");
    }
    const data = chunk.data as VoxelArray;
    if (fullyInside && !opts.shared) return data;
    copyBox3d(data, inside, uniform(0), out, box.shape, sub(lo, box.begin), inside);
    return out;
  }

  /**
   * A box that is exactly one whole chunk of a non-sharded array is that chunk's decoded data, with
   * no copy into a second array; undefined otherwise.
   */
  private async wholeChunk(box: VoxelBox): Promise<VoxelArray | undefined> {
    const c = this.meta.chunks;
    const inner = this.arr.chunks;
    if (inner.length !== 3 || !inner.every((v, d) => v === c[d])) return undefined;
    for (let d = 0; d < 3; d++) if (box.begin[d]! % c[d]! !== 0 || box.shape[d] !== c[d]) return undefined;
    const coords = [0, 1, 2].map((d) => box.begin[d]! / c[d]!);
    const chunk = await this.arr.getChunk(coords);
    const [, cy, cx] = c;
    const cOrder = chunk.stride[0] === cy * cx && chunk.stride[1] === cx && chunk.stride[2] === 1;
    return cOrder ? (chunk.data as VoxelArray) : undefined;
  }

  async readRoi(roi: Roi, opts: { signal?: AbortSignal; fill?: number } = {}): Promise<VoxelArray> {
    return this.readBox(this.boxOf(roi), opts);
  }

  /** Writes a box that lies inside the array. Whole-chunk writes never read existing chunks. */
  async writeBox(box: VoxelBox, data: VoxelArray, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const n = box.shape[0] * box.shape[1] * box.shape[2];
    if (data.length !== n) throw invalidArgument(`write of ${n} voxels got ${data.length} values`);
    for (let d = 0; d < 3; d++) {
      if (box.begin[d]! < 0 || box.begin[d]! + box.shape[d]! > this.meta.shape[d]!) {
        throw invalidArgument(
          `${this.describe()}: write box at ${box.begin.join(",")} of shape ${box.shape.join(",")} lies outside the array shape ${this.meta.shape.join(",")}`,
        );
      }
    }
    const sel = [0, 1, 2].map((d) => zarr.slice(box.begin[d]!, box.begin[d]! + box.shape[d]!));
    const stride = [box.shape[1] * box.shape[2], box.shape[2], 1];
    try {
      await zarr._zarrita_internal_set(
        this.arr,
        sel,
        { data, shape: [...box.shape], stride } as never,
        { signal: opts.signal },
        boxSetter as never,
      );
    } catch (e) {
      throw this.wrap(e, "writing");
    }
  }

  async writeRoi(roi: Roi, data: VoxelArray): Promise<void> {
    return this.writeBox(this.boxOf(roi), data);
  }

  /** Marks the whole multiscale array as completely written (readers refuse incomplete arrays). */
  async markComplete(complete = true): Promise<void> {
    await setOrganelleAttrs(this.datasetPath, this.arrayPath, { complete });
  }

  describe(): string {
    return `${path.join(this.datasetPath, this.arrayPath)}${this.scale > 0 ? ` (s${this.scale})` : ""}`;
  }

  private wrap(e: unknown, action: string): OrganelleError {
    if (e instanceof OrganelleError) return e;
    const msg = (e as Error)?.message ?? String(e);
    return invalidData(`${this.describe()}: ${action} failed: ${msg}`, e);
  }

  static async create(datasetPath: string, arrayPath: string, opts: CreateVolumeOptions): Promise<Volume> {
    const shape = opts.shape;
    if (!shape.every((s) => Number.isInteger(s) && s > 0)) {
      throw invalidArgument(`shape ${shape.join(",")}: every axis must be a positive integer`);
    }
    const voxelSize = validateVoxelSize(opts.voxelSize);
    const offset = opts.offset ?? uniform(0);
    const chunks = opts.chunks ?? uniform(DEFAULT_CHUNK);
    if (!chunks.every((c) => Number.isInteger(c) && c > 0)) {
      throw invalidArgument(`chunks ${chunks.join(",")}: every axis must be a positive integer`);
    }
    const clippedChunks = min(chunks, shape);
    const format = opts.format ?? "0.4";
    const compressor = opts.compressor ?? "zstd";
    const kind = opts.kind ?? "intensity";
    const groupDir = path.join(datasetPath, arrayPath);
    await ensureDatasetRoot(datasetPath, format);
    if (fs.existsSync(groupDir)) {
      if (!opts.overwrite) {
        throw invalidArgument(`${groupDir} already exists; choose another name or pass --overwrite`);
      }
      await fs.promises.rm(groupDir, { recursive: true, force: true });
    }
    try {
      await fs.promises.mkdir(groupDir, { recursive: true });
    } catch (e) {
      throw fromFsError(e, groupDir, "creating the array");
    }
    const level: MultiscaleLevel = { path: "s0", voxelSize, offset };
    await writeMultiscaleGroup(datasetPath, arrayPath, {
      format,
      levels: [level],
      kind,
      organelle: { ...(opts.attrs ?? {}), kind, complete: false },
    });
    await createLevelArray(datasetPath, `${arrayPath}/s0`, {
      shape,
      chunks: clippedChunks,
      dtype: opts.dtype,
      compressor,
      level: opts.level,
      format,
    });
    return Volume.open(datasetPath, arrayPath, { allowIncomplete: true });
  }

  static async open(datasetPath: string, arrayPath: string, opts: OpenVolumeOptions = {}): Promise<Volume> {
    const scale = opts.scale ?? 0;
    const group = await readMultiscaleGroup(datasetPath, arrayPath);
    if (!opts.allowIncomplete && group.organelle.complete === false) {
      throw new OrganelleError(
        "Incomplete",
        `${path.join(datasetPath, arrayPath)} was not completely written (interrupted?); re-run the command that makes it`,
      );
    }
    const level = group.levels[scale];
    if (!level) {
      throw notFound(
        `${path.join(datasetPath, arrayPath)} has no scale level ${scale} (levels: 0..${group.levels.length - 1})`,
      );
    }
    const store = new FileSystemStore(datasetPath);
    const loc = zarr.root(store).resolve(`${arrayPath}/${level.path}`);
    let arr: ZArray;
    try {
      arr = (await (group.format === "0.4"
        ? zarr.open.v2(loc, { kind: "array" })
        : zarr.open.v3(loc, { kind: "array" }))) as ZArray;
    } catch (e) {
      throw invalidData(
        `${path.join(datasetPath, arrayPath, level.path)}: not a readable Zarr array (${(e as Error).message})`,
        e,
      );
    }
    const meta: VolumeMeta = {
      shape: coordFrom(arr.shape, "array shape"),
      dtype: fromZarrDType(String(arr.dtype)),
      chunks: coordFrom(arr.chunks, "array chunks"),
      voxelSize: level.voxelSize,
      offset: level.offset,
      compressor: await detectCompressor(path.join(datasetPath, arrayPath, level.path)),
      format: group.format,
      kind: group.kind,
    };
    return new Volume(datasetPath, arrayPath, scale, meta, group.levels, group.organelle, arr);
  }

  /**
   * Opens a plain Zarr v2/v3 array that has no OME multiscales of its own (written by funlib/daisy,
   * zarr-python, ...) for reading; `geometry` supplies what OME metadata would. Not a multiscale group,
   * so markComplete() does not apply.
   */
  static async openArray(
    rootPath: string,
    arrayPath: string,
    geometry: { voxelSize: Coordinate; offset: Coordinate; kind: ArrayKind },
  ): Promise<Volume> {
    const store = new FileSystemStore(rootPath);
    const where = path.join(rootPath, arrayPath);
    let arr: ZArray;
    try {
      arr = (await zarr.open(zarr.root(store).resolve(arrayPath), { kind: "array" })) as ZArray;
    } catch (e) {
      throw invalidData(`${where}: not a readable Zarr array (${(e as Error).message})`, e);
    }
    const isV3 = fs.existsSync(path.join(where, "zarr.json"));
    const meta: VolumeMeta = {
      shape: coordFrom(arr.shape, `${where}: array shape`),
      dtype: fromZarrDType(String(arr.dtype)),
      chunks: coordFrom(arr.chunks, `${where}: array chunks`),
      voxelSize: geometry.voxelSize,
      offset: geometry.offset,
      compressor: await detectCompressor(where),
      format: isV3 ? "0.5" : "0.4",
      kind: geometry.kind,
    };
    const level: MultiscaleLevel = { path: "", voxelSize: geometry.voxelSize, offset: geometry.offset };
    return new Volume(rootPath, arrayPath, 0, meta, [level], { kind: geometry.kind }, arr);
  }
}

export const createVolume = Volume.create;
export const openVolume = Volume.open;

interface LevelArrayOptions {
  shape: Coordinate;
  chunks: Coordinate;
  dtype: DType;
  compressor: Compressor;
  level?: number | undefined;
  format: OmeVersion;
}

/** Creates one Zarr array (a pyramid level). Zarrita writes v3 metadata; v2 metadata is plain JSON. */
export async function createLevelArray(
  datasetPath: string,
  levelPath: string,
  o: LevelArrayOptions,
): Promise<void> {
  const dir = path.join(datasetPath, levelPath);
  await fs.promises.mkdir(dir, { recursive: true });
  if (o.format === "0.4") {
    const zarray = {
      zarr_format: 2,
      shape: [...o.shape],
      chunks: [...o.chunks],
      dtype: toZarrV2DType(o.dtype),
      compressor: v2Compressor(o.compressor, o.level, o.dtype),
      fill_value: 0,
      order: "C",
      filters: null,
      dimension_separator: "/",
    };
    await writeJsonAtomic(path.join(dir, ".zarray"), zarray);
    return;
  }
  const store = new FileSystemStore(datasetPath);
  await zarr.create(zarr.root(store).resolve(levelPath), {
    shape: [...o.shape],
    chunkShape: [...o.chunks],
    dtype: o.dtype as zarr.DataType,
    codecs: v3Codecs(o.compressor, o.level, o.dtype),
    fillValue: (o.dtype === "uint64" ? 0n : 0) as never,
    dimensionNames: ["z", "y", "x"],
  });
}

function v2Compressor(
  c: Compressor,
  level: number | undefined,
  dtype: DType,
): Record<string, unknown> | null {
  switch (c) {
    case "none":
      return null;
    case "zstd":
      return { id: "zstd", level: level ?? 3 };
    case "gzip":
      return { id: "gzip", level: level ?? 5 };
    case "blosc":
      return {
        id: "blosc",
        cname: "zstd",
        clevel: level ?? 5,
        shuffle: dtype === "uint8" ? 0 : 1,
        blocksize: 0,
      };
  }
}

function v3Codecs(c: Compressor, level: number | undefined, dtype: DType): zarr.CodecMetadata[] {
  const bytes: zarr.CodecMetadata = { name: "bytes", configuration: { endian: "little" } };
  switch (c) {
    case "none":
      return [bytes];
    case "zstd":
      return [bytes, { name: "zstd", configuration: { level: level ?? 3, checksum: false } }];
    case "gzip":
      return [bytes, { name: "gzip", configuration: { level: level ?? 5 } }];
    case "blosc":
      return [
        bytes,
        {
          name: "blosc",
          configuration: {
            cname: "zstd",
            clevel: level ?? 5,
            shuffle: dtype === "uint8" ? "noshuffle" : "shuffle",
            typesize: dtype === "uint8" ? 1 : undefined,
            blocksize: 0,
          },
        },
      ];
  }
}

/**
 * The compressor named by an array's own metadata (.zarray `compressor` or zarr.json `codecs`); the
 * zarrita Array object does not expose it. Codecs organelle does not write (lz4, bz2, ...) read as "none".
 */
async function detectCompressor(arrayDir: string): Promise<Compressor> {
  const v3 = path.join(arrayDir, "zarr.json");
  const meta = (await readJson(fs.existsSync(v3) ? v3 : path.join(arrayDir, ".zarray"))) as {
    compressor?: { id?: string } | null;
    codecs?: { name?: string }[];
  };
  const names = meta.codecs
    ? meta.codecs.map((c) => String(c.name ?? "").replace(/^numcodecs\./, ""))
    : [String(meta.compressor?.id ?? "")];
  if (names.includes("blosc")) return "blosc";
  if (names.includes("zstd")) return "zstd";
  if (names.includes("gzip") || names.includes("zlib")) return "gzip";
  return "none";
}

async function ensureDatasetRoot(datasetPath: string, format: OmeVersion): Promise<void> {
  try {
    await fs.promises.mkdir(datasetPath, { recursive: true });
  } catch (e) {
    throw fromFsError(e, datasetPath, "creating the dataset");
  }
  const v2 = path.join(datasetPath, ".zgroup");
  const v3 = path.join(datasetPath, "zarr.json");
  if (fs.existsSync(v2) || fs.existsSync(v3)) return;
  if (format === "0.4") {
    await writeJsonAtomic(v2, { zarr_format: 2 });
    await writeJsonAtomic(path.join(datasetPath, ".zattrs"), { organelle: { version: 1, kind: "dataset" } });
  } else {
    await writeJsonAtomic(v3, {
      zarr_format: 3,
      node_type: "group",
      attributes: { organelle: { version: 1, kind: "dataset" } },
    });
  }
}

/** Writes JSON through a temporary file and a rename, so readers never see half a file. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {});
    throw fromFsError(e, file, "writing metadata");
  }
}

export async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (e) {
    throw fromFsError(e, file, "reading metadata");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidData(`${file}: not valid JSON (${(e as Error).message})`, e);
  }
}

/** Merges keys into the `organelle` attributes of a multiscale group. */
export async function setOrganelleAttrs(
  datasetPath: string,
  arrayPath: string,
  patch: Record<string, unknown>,
): Promise<void> {
  const group = await readMultiscaleGroup(datasetPath, arrayPath);
  await writeMultiscaleGroup(datasetPath, arrayPath, {
    format: group.format,
    levels: group.levels,
    kind: group.kind,
    organelle: { ...group.organelle, ...patch },
    extra: group.extra,
  });
}

export { coord };

// ---------------------------------------------------------------------------------------------
// Chunk copies

interface StridedArray {
  data: VoxelArray;
  shape: number[];
  stride: number[];
}
type Slice = [number, number, number];
interface Projection {
  from: Slice | number | null;
  to: Slice | number | null;
}

/**
 * What zarrita's get/set copy chunks with. Its own setter walks a box row by row through a recursion
 * that makes two typed-array views and several small arrays per row (about 200 MB/s into a slab of
 * several chunks); this one copies boxes of step-1 slices between typed arrays with one `set` per
 * contiguous row, plane or box, and element by element for other layouts (transposed chunks).
 */
const boxSetter = {
  prepare(data: VoxelArray, shape: number[], stride: number[]): StridedArray {
    return { data, shape, stride };
  },
  setScalar(dest: StridedArray, sel: (Slice | number)[], value: number | bigint): void {
    const ranges = sel.map((s) => (typeof s === "number" ? ([s, s + 1, 1] as Slice) : s));
    forEachIndex(ranges, dest.stride, (o) => {
      (dest.data as unknown as (number | bigint)[])[o] = value;
    });
  },
  setFromChunk(dest: StridedArray, src: StridedArray, projections: Projection[]): void {
    const destRanges: Slice[] = [];
    const srcRanges: Slice[] = [];
    const destStride: number[] = [];
    const srcStride: number[] = [];
    let destBase = 0;
    let srcBase = 0;
    let si = 0;
    let di = 0;
    for (const p of projections) {
      // an integer on one side drops that axis there: fold it into the base offset
      if (p.from === null) {
        destBase += dest.stride[di++]! * (p.to as number);
        continue;
      }
      if (p.to === null) {
        srcBase += src.stride[si++]! * (p.from as number);
        continue;
      }
      const f = p.from as Slice;
      const t = p.to as Slice;
      srcRanges.push(f);
      destRanges.push(t);
      srcStride.push(src.stride[si++]!);
      destStride.push(dest.stride[di++]!);
    }
    copyStrided(src.data, srcBase, srcRanges, srcStride, dest.data, destBase, destRanges, destStride);
  },
};

function sliceLength([start, stop, step]: Slice): number {
  if (step > 0) return stop > start ? Math.floor((stop - start - 1) / step) + 1 : 0;
  return start > stop ? Math.floor((start - stop - 1) / -step) + 1 : 0;
}

/** Calls `visit` with the flat offset of every element of a strided selection (slow path). */
function forEachIndex(ranges: Slice[], stride: number[], visit: (offset: number) => void): void {
  const walk = (d: number, base: number) => {
    if (d === ranges.length) {
      visit(base);
      return;
    }
    const r = ranges[d]!;
    const n = sliceLength(r);
    for (let i = 0; i < n; i++) walk(d + 1, base + (r[0] + i * r[2]) * stride[d]!);
  };
  walk(0, 0);
}

function copyStrided(
  src: VoxelArray,
  srcBase: number,
  srcRanges: Slice[],
  srcStride: number[],
  dst: VoxelArray,
  dstBase: number,
  dstRanges: Slice[],
  dstStride: number[],
): void {
  const dims = srcRanges.length;
  const lens = srcRanges.map(sliceLength);
  const unitSteps = srcRanges.every((r) => r[2] === 1) && dstRanges.every((r) => r[2] === 1);
  if (dims === 0) {
    (dst as Float64Array)[dstBase] = (src as Float64Array)[srcBase]!;
    return;
  }
  if (unitSteps && srcStride[dims - 1] === 1 && dstStride[dims - 1] === 1) {
    // Merge trailing axes that are contiguous on both sides into one run per `set`.
    let run = lens[dims - 1]!;
    let outer = dims - 1;
    while (outer > 0 && srcStride[outer - 1] === run && dstStride[outer - 1] === run) {
      run *= lens[outer - 1]!;
      outer--;
    }
    const s0 = srcBase + srcRanges.reduce((a, r, d) => a + r[0] * srcStride[d]!, 0);
    const d0 = dstBase + dstRanges.reduce((a, r, d) => a + r[0] * dstStride[d]!, 0);
    const count = lens.slice(0, outer).reduce((a, b) => a * b, 1);
    if (count === 0 || run === 0) return;
    const idx = new Array<number>(outer).fill(0);
    let so = s0;
    let dO = d0;
    const typedSrc = src as Uint8Array;
    const typedDst = dst as Uint8Array;
    for (let k = 0; k < count; k++) {
      typedDst.set(typedSrc.subarray(so, so + run), dO);
      // next outer index (row-major)
      for (let d = outer - 1; d >= 0; d--) {
        idx[d]!++;
        so += srcStride[d]!;
        dO += dstStride[d]!;
        if (idx[d]! < lens[d]!) break;
        so -= srcStride[d]! * lens[d]!;
        dO -= dstStride[d]! * lens[d]!;
        idx[d] = 0;
      }
    }
    return;
  }
  const srcOffsets: number[] = [];
  forEachIndex(srcRanges, srcStride, (o) => srcOffsets.push(srcBase + o));
  let k = 0;
  forEachIndex(dstRanges, dstStride, (o) => {
    (dst as Float64Array)[dstBase + o] = (src as Float64Array)[srcOffsets[k++]!]!;
  });
}
