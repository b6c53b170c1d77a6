import * as fs from "node:fs";
import * as path from "node:path";
import { fromFsError, invalidArgument, invalidData, isOrganelleError, notFound } from "../core/errors.ts";
import type { DType } from "./dtype.ts";
import { detectNode, type StoreNode, walkArrays } from "./hierarchy.ts";
import type { ArrayKind } from "./multiscale.ts";
import { compressionLabel, parseN5ArrayHeader, readN5Attributes } from "./n5.ts";
import { openReader } from "./reader.ts";

/** A description of a dataset container or array, as `organelle info` prints it (z,y,x, nm, bytes). */
export interface PathInfo {
  readonly path: string;
  /** "OME-Zarr 0.4 (Zarr v2)", "OME-Zarr 0.5 (Zarr v3)", "Zarr v2", "Zarr v3" or "N5". */
  readonly format: string;
  /** A container (a group holding arrays) or a single array. */
  readonly type: "container" | "array";
  readonly arrays: readonly AnyArrayInfo[];
  /** Label images listed by the OME-Zarr `labels` group. */
  readonly labels: readonly string[];
  /** Sum of the sizes of all files under `path`. */
  readonly bytes: number;
}

export interface LevelInfo {
  readonly path: string;
  readonly shape: readonly number[];
  readonly voxelSize: readonly number[];
  readonly chunks: readonly number[];
  readonly bytes: number;
}

export interface ArrayInfo {
  /** Relative to the described path, "/"-separated; "" when the path is the array itself. */
  readonly path: string;
  readonly format: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly voxelSize: readonly number[];
  /** False when the metadata records no voxel size and 1 nm is assumed. */
  readonly voxelSizeRecorded: boolean;
  readonly offset: readonly number[];
  readonly chunks: readonly number[];
  /** e.g. "zstd (level 3)", "blosc (zstd, clevel 5, shuffle)", "gzip", "raw". */
  readonly compression: string;
  readonly kind: ArrayKind;
  /** The pyramid level this is, when a level array was described by its own path (else 0). */
  readonly scale: number;
  /** False while organelle is still writing the array (or was interrupted). */
  readonly complete: boolean;
  readonly levels: readonly LevelInfo[];
  readonly bytes: number;
}

/** An array that was found but cannot be read (unsupported compression or data type, corrupt metadata). */
export interface UnreadableArrayInfo {
  readonly path: string;
  readonly format: string;
  readonly error: string;
  readonly bytes: number;
}

export type AnyArrayInfo = ArrayInfo | UnreadableArrayInfo;

export function isReadable(a: AnyArrayInfo): a is ArrayInfo {
  return !("error" in a);
}

/**
 * Describes `p`: a dataset container (every array in its hierarchy), a multiscale group or a single
 * array, in OME-Zarr 0.4/0.5, plain Zarr or N5.
 */
export async function describePath(p: string): Promise<PathInfo> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") throw notFound(`${p}: no such file or directory`);
    throw fromFsError(e, p, "reading");
  }
  if (!st.isDirectory()) {
    throw invalidArgument(`${p}: is a file; expected an OME-Zarr (.zarr) or N5 (.n5) directory`);
  }
  const node = await detectNode(p);
  if (!node) {
    throw invalidData(
      `${p}: not an OME-Zarr or N5 directory (no .zgroup, .zattrs, .zarray, zarr.json or attributes.json)`,
    );
  }
  const entries = (await walkArrays(p)).sort((a, b) => layoutRank(a.path) - layoutRank(b.path));
  // One walk measures every directory; arrays and levels look their sizes up.
  const sizes = await directorySizes(p);
  const sizeOf = (dir: string) => sizes.get(path.resolve(dir)) ?? 0;
  const arrays: AnyArrayInfo[] = [];
  for (const e of entries) arrays.push(await describeArray(path.join(p, e.path), e.path, e.node, sizeOf));
  return {
    path: p,
    format: formatName(node, node.type === "multiscale"),
    type: node.type === "group" ? "container" : "array",
    arrays,
    labels: labelNames(node.type === "group" ? await detectNode(path.join(p, "labels")) : undefined),
    bytes: sizeOf(p),
  };
}

/** Lists arrays in the order of the dataset layout (raw, masks, labels, ...), the rest after them. */
const LAYOUT = ["raw", "raw_clahe", "masks", "labels", "predictions", "segmentations"];
function layoutRank(p: string): number {
  const i = LAYOUT.indexOf(p.split("/")[0]!);
  return i < 0 ? LAYOUT.length : i;
}

function formatName(node: StoreNode, multiscale: boolean): string {
  if (node.format === "n5") return "N5";
  const v = node.format === "zarr2" ? "Zarr v2" : "Zarr v3";
  if (node.type === "array") return v;
  const ome = node.format === "zarr2" ? "OME-Zarr 0.4" : "OME-Zarr 0.5";
  return multiscale || node.type === "group" ? `${ome} (${v})` : v;
}

function labelNames(labels: StoreNode | undefined): string[] {
  if (!labels || labels.format === "n5") return [];
  const attrs = (labels.format === "zarr3" ? (labels.attrs.ome ?? labels.attrs) : labels.attrs) as {
    labels?: unknown;
  };
  return Array.isArray(attrs.labels) ? attrs.labels.map(String) : [];
}

async function describeArray(
  dir: string,
  rel: string,
  node: StoreNode,
  sizeOf: (dir: string) => number,
): Promise<AnyArrayInfo> {
  const format = formatName(node, node.type === "multiscale");
  const bytes = sizeOf(dir);
  try {
    const top = await openReader(dir, { allowIncomplete: true });
    const multiscale = node.type === "multiscale";
    const levels: LevelInfo[] = [];
    for (let k = 0; k < (multiscale ? top.levels.length : 1); k++) {
      const r = k === 0 ? top : await openReader(dir, { scale: k, allowIncomplete: true });
      const levelDir = multiscale ? path.join(dir, top.levels[k]!.path) : dir;
      levels.push({
        path: multiscale ? top.levels[k]!.path : "",
        shape: [...r.meta.shape],
        voxelSize: [...r.meta.voxelSize],
        chunks: [...r.meta.chunks],
        bytes: multiscale ? sizeOf(levelDir) : bytes,
      });
    }
    const level0Dir = multiscale ? path.join(dir, top.levels[0]!.path) : dir;
    const organelle = node.attrs.organelle as { complete?: unknown } | undefined;
    return {
      path: rel,
      format,
      shape: [...top.meta.shape],
      dtype: top.meta.dtype,
      voxelSize: [...top.meta.voxelSize],
      voxelSizeRecorded: await voxelSizeRecorded(node),
      offset: [...top.meta.offset],
      chunks: [...top.meta.chunks],
      compression: await describeCompression(level0Dir),
      kind: top.meta.kind,
      scale: top.scale,
      complete: organelle?.complete !== false,
      levels,
      bytes,
    };
  } catch (e) {
    if (!isOrganelleError(e)) throw e;
    return { path: rel, format, error: e.message, bytes };
  }
}

/** Whether the metadata gives a voxel size (OME-Zarr always does; plain Zarr and N5 may not). */
async function voxelSizeRecorded(node: StoreNode): Promise<boolean> {
  const has = (a: Record<string, unknown> | undefined) =>
    a !== undefined && ["transform", "pixelResolution", "resolution", "voxel_size"].some((k) => k in a);
  if (node.format !== "n5") return node.type === "multiscale" || has(node.attrs);
  if (node.type === "array") return has(node.attrs);
  const ms = node.attrs.multiscales as { datasets?: { transform?: unknown }[] }[] | undefined;
  return (
    Boolean(ms?.[0]?.datasets?.[0]?.transform) ||
    has(node.attrs) ||
    has(await readN5Attributes(path.join(node.dir, "s0")))
  );
}

/** The compressor with its settings, from the array's own metadata. */
async function describeCompression(arrayDir: string): Promise<string> {
  const n5 = await readN5Attributes(arrayDir);
  const read = (f: string) =>
    fs.promises
      .readFile(path.join(arrayDir, f), "utf8")
      .then((t) => JSON.parse(t) as Record<string, unknown>)
      .catch(() => undefined);
  const v3 = await read("zarr.json");
  if (v3) {
    const codecs = (v3.codecs ?? []) as { name?: string; configuration?: Record<string, unknown> }[];
    const parts = codecs
      .filter((c) => c.name !== "bytes" && c.name !== "transpose")
      .map((c) => codecLabel(String(c.name).replace(/^numcodecs\./, ""), c.configuration ?? {}));
    return parts.length ? parts.join(" + ") : "none";
  }
  const v2 = await read(".zarray");
  if (v2) {
    const c = v2.compressor as Record<string, unknown> | null | undefined;
    return c ? codecLabel(String(c.id), c) : "none";
  }
  if (n5) return compressionLabel(parseN5ArrayHeader(n5, path.join(arrayDir, "attributes.json")).compression);
  return "unknown";
}

function codecLabel(name: string, c: Record<string, unknown>): string {
  if (name === "blosc") {
    const shuffle =
      c.shuffle === 0 || c.shuffle === "noshuffle"
        ? "noshuffle"
        : c.shuffle === 2 || c.shuffle === "bitshuffle"
          ? "bitshuffle"
          : "shuffle";
    return `blosc (${String(c.cname ?? "lz4")}, clevel ${String(c.clevel ?? 5)}, ${shuffle})`;
  }
  if (name === "sharding_indexed") {
    const inner = ((c.codecs ?? []) as { name?: string; configuration?: Record<string, unknown> }[])
      .filter((x) => x.name !== "bytes")
      .map((x) => codecLabel(String(x.name), x.configuration ?? {}));
    return `sharded (${inner.join(" + ") || "none"})`;
  }
  return c.level !== undefined ? `${name} (level ${String(c.level)})` : name;
}

/**
 * Total size of the files under every directory below `root` (apparent sizes, so equal on every
 * filesystem), keyed by absolute path.
 */
export async function directorySizes(root: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const walk = async (d: string): Promise<number> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(d, { withFileTypes: true });
    } catch (e) {
      throw fromFsError(e, d, "measuring the size on disk");
    }
    let total = 0;
    const files: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) total += await walk(path.join(d, e.name));
      else if (e.isFile()) files.push(path.join(d, e.name));
    }
    const stats = await Promise.all(files.map((f) => fs.promises.lstat(f)));
    for (const st of stats) total += st.size;
    sizes.set(d, total);
    return total;
  };
  await walk(path.resolve(root));
  return sizes;
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${n} bytes`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}
