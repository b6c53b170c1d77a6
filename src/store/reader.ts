import * as fs from "node:fs";
import * as path from "node:path";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { invalidArgument, invalidData, notFound } from "../core/errors.ts";
import type { Roi, VoxelBox } from "../core/roi.ts";
import { type DType, fromZarrDType, type VoxelArray } from "./dtype.ts";
import { detectNode, findZarrRoot, type StoreNode, walkArrays } from "./hierarchy.ts";
import type { ArrayKind, MultiscaleLevel } from "./multiscale.ts";
import { guessKind, N5Reader, openN5Multiscale, readN5Levels } from "./n5.ts";
import { type Compressor, Volume } from "./volume.ts";

/** What every reader knows about the level it reads. Positions in nm, axes z,y,x. */
export interface ReaderMeta {
  readonly shape: Coordinate;
  readonly dtype: DType;
  readonly chunks: Coordinate;
  readonly voxelSize: Coordinate;
  /** World position (nm) of the corner of voxel (0,0,0). */
  readonly offset: Coordinate;
  readonly compressor: Compressor;
  readonly kind: ArrayKind;
}

export interface ReadBoxOptions {
  readonly signal?: AbortSignal;
  /** Value for voxels outside the array (default 0); missing chunks inside the array read as 0. */
  readonly fill?: number;
}

/**
 * Read access to one scale level of a volume in any supported format (OME-Zarr 0.4/0.5, plain Zarr,
 * N5). `Volume` implements it for Zarr, `N5Reader` for N5.
 */
export interface VolumeReader {
  readonly meta: ReaderMeta;
  /** World ROI covered by this level. */
  readonly roi: Roi;
  /** The level read (0 = full resolution) and every level of the pyramid it belongs to. */
  readonly scale: number;
  readonly levels: readonly MultiscaleLevel[];
  /** Reads a box of voxels of this level (C-order z,y,x). */
  readBox(box: VoxelBox, opts?: ReadBoxOptions): Promise<VoxelArray>;
  /** Names the array in messages. */
  describe(): string;
}

export interface OpenReaderOptions {
  /** Array inside the container at `path` (e.g. "raw", "labels/mito", "em/fibsem-uint8"). */
  readonly array?: string;
  /** Pyramid level (default 0). */
  readonly scale?: number;
  /** Open OME-Zarr arrays whose writing has not finished. */
  readonly allowIncomplete?: boolean;
}

/**
 * Opens a volume for reading, whatever it is: an OME-Zarr 0.4/0.5 multiscale group, one of its level
 * arrays, a plain Zarr v2/v3 array, an N5 multiscale group (COSEM / n5-viewer / BDV) or N5 array.
 * `path` is the volume itself or, with `array`, the container that holds it.
 */
export async function openReader(p: string, opts: OpenReaderOptions = {}): Promise<VolumeReader> {
  const target = opts.array ? path.join(p, opts.array) : p;
  await requireDirectory(p);
  if (opts.array) await requireDirectory(target, `array '${opts.array}' in ${p}`);
  if (opts.scale !== undefined && !(Number.isInteger(opts.scale) && opts.scale >= 0)) {
    throw invalidArgument(`scale ${opts.scale}: must be a level number 0, 1, 2, ...`);
  }
  const node = await detectNode(target);
  if (!node) {
    throw invalidData(
      `${target}: not an OME-Zarr or N5 volume (no .zattrs, .zarray, zarr.json or attributes.json); give the path of a .zarr or .n5 container or array`,
    );
  }
  switch (node.type) {
    case "group":
      throw invalidArgument(await groupMessage(target));
    case "multiscale":
      if (node.format === "n5") return openN5Multiscale(target, opts.scale ?? 0);
      return openOmeZarr(target, opts.scale ?? 0, opts.allowIncomplete);
    case "array":
      return openArrayNode(node, opts);
  }
}

/** A level array opened by path is read as that level of its pyramid; a lone array on its own. */
async function openArrayNode(node: StoreNode, opts: OpenReaderOptions): Promise<VolumeReader> {
  const parentDir = path.dirname(node.dir);
  const name = path.basename(node.dir);
  const parent = await detectNode(parentDir);
  if (parent?.type === "multiscale" && (parent.format === "n5") === (node.format === "n5")) {
    const levels = parent.format === "n5" ? await readN5Levels(parentDir) : omeLevelPaths(parent);
    const idx = levels.findIndex((l) => (typeof l === "string" ? l : l.path) === name);
    if (idx >= 0) {
      if (opts.scale !== undefined && opts.scale !== idx) {
        throw invalidArgument(`${node.dir} is scale level ${idx}; --scale ${opts.scale} contradicts it`);
      }
      return parent.format === "n5"
        ? openN5Multiscale(parentDir, idx)
        : openOmeZarr(parentDir, idx, opts.allowIncomplete);
    }
  }
  if (opts.scale) throw invalidArgument(`${node.dir} is a single array without scale levels; drop --scale`);
  if (node.format === "n5") return N5Reader.open(node.dir);
  const root = await findZarrRoot(node.dir);
  const meta = node.arrayMeta ?? {};
  let dtype: DType;
  try {
    dtype = fromZarrDType(String(meta.dtype ?? meta.data_type));
  } catch (e) {
    throw invalidData(`${node.dir}: ${(e as Error).message}`, e);
  }
  return Volume.openArray(root, relPath(root, node.dir), { ...plainGeometry(node), kind: guessKind(dtype) });
}

async function openOmeZarr(dir: string, scale: number, allowIncomplete?: boolean): Promise<Volume> {
  const root = await findZarrRoot(dir);
  return Volume.open(root, relPath(root, dir), { scale, allowIncomplete: allowIncomplete ?? false });
}

function omeLevelPaths(node: StoreNode): string[] {
  const ome = (node.format === "zarr3" ? (node.attrs.ome ?? node.attrs) : node.attrs) as {
    multiscales?: { datasets?: { path?: unknown }[] }[];
  };
  return (ome.multiscales?.[0]?.datasets ?? []).map((d) => String(d.path));
}

/**
 * Voxel size and offset of a plain Zarr array: funlib/daisy (and ASEM's volumes) keep `resolution`
 * and `offset` in nm, z,y,x, in the array's attributes. Without them: 1 nm voxels at the origin.
 */
function plainGeometry(node: StoreNode): { voxelSize: Coordinate; offset: Coordinate } {
  const three = (v: unknown) =>
    Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === "number" && Number.isFinite(n))
      ? coord(v[0], v[1], v[2])
      : undefined;
  return {
    voxelSize: three(node.attrs.resolution) ?? three(node.attrs.voxel_size) ?? uniform(1),
    offset: three(node.attrs.offset) ?? uniform(0),
  };
}

function relPath(root: string, dir: string): string {
  return path.relative(root, path.resolve(dir)).split(path.sep).join("/");
}

async function requireDirectory(p: string, what = p): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch {
    throw notFound(`${what === p ? p : `${what} (${p})`}: no such file or directory`);
  }
  if (!st.isDirectory()) {
    throw invalidArgument(`${p}: is a file; expected an OME-Zarr (.zarr) or N5 (.n5) directory`);
  }
}

async function groupMessage(dir: string): Promise<string> {
  const arrays = (await walkArrays(dir)).map((a) => a.path);
  if (arrays.length === 0) return `${dir}: a group without arrays; there is nothing to read`;
  const shown =
    arrays.slice(0, 12).join(", ") + (arrays.length > 12 ? `, ... (${arrays.length} in all)` : "");
  return `${dir}: a group, not an array; name one of its arrays: ${shown}`;
}
