import * as fs from "node:fs";
import * as path from "node:path";
import { fromFsError, invalidData } from "../core/errors.ts";
import { isN5ArrayAttributes, isN5MultiscaleGroup, readN5Attributes } from "./n5.ts";

/*
 * What a directory is, judged from its metadata files alone: Zarr v2 (.zarray / .zgroup / .zattrs),
 * Zarr v3 (zarr.json) or N5 (attributes.json), and whether it is an array, a plain group or a
 * multiscale group (OME-Zarr `multiscales`, or N5 pyramids as COSEM, n5-viewer and BDV write them).
 */

export type NodeFormat = "zarr2" | "zarr3" | "n5";
export type NodeType = "array" | "group" | "multiscale";

export interface StoreNode {
  readonly dir: string;
  readonly format: NodeFormat;
  readonly type: NodeType;
  /** User attributes (.zattrs, zarr.json `attributes`, or the whole N5 attributes.json). */
  readonly attrs: Record<string, unknown>;
  /** Array metadata (.zarray, zarr.json or N5 attributes.json); undefined for groups. */
  readonly arrayMeta?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

async function readJsonIfPresent(file: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fromFsError(e, file, "reading metadata");
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Json;
  } catch (e) {
    throw invalidData(`${file}: not valid JSON metadata (${(e as Error).message})`, e);
  }
}

/** Classifies `dir`; undefined when it carries no Zarr or N5 metadata. */
export async function detectNode(dir: string): Promise<StoreNode | undefined> {
  const v3 = await readJsonIfPresent(path.join(dir, "zarr.json"));
  if (v3) {
    const attrs = (v3.attributes ?? {}) as Json;
    if (v3.node_type === "array") return { dir, format: "zarr3", type: "array", attrs, arrayMeta: v3 };
    const ome = attrs.ome as Json | undefined;
    const multiscale = Array.isArray(ome?.multiscales) || Array.isArray(attrs.multiscales);
    return { dir, format: "zarr3", type: multiscale ? "multiscale" : "group", attrs };
  }
  const zarray = await readJsonIfPresent(path.join(dir, ".zarray"));
  const zattrs = await readJsonIfPresent(path.join(dir, ".zattrs"));
  if (zarray) return { dir, format: "zarr2", type: "array", attrs: zattrs ?? {}, arrayMeta: zarray };
  if (zattrs || fs.existsSync(path.join(dir, ".zgroup"))) {
    const multiscale = Array.isArray(zattrs?.multiscales);
    return { dir, format: "zarr2", type: multiscale ? "multiscale" : "group", attrs: zattrs ?? {} };
  }
  const n5 = await readN5Attributes(dir);
  if (n5) {
    if (isN5ArrayAttributes(n5)) return { dir, format: "n5", type: "array", attrs: n5, arrayMeta: n5 };
    const multiscale = isN5MultiscaleGroup(n5) || (await hasN5Level0(dir));
    return { dir, format: "n5", type: multiscale ? "multiscale" : "group", attrs: n5 };
  }
  // N5 lets groups omit attributes.json; a directory holding an N5 array s0 is still a pyramid.
  if (await hasN5Level0(dir)) return { dir, format: "n5", type: "multiscale", attrs: {} };
  return undefined;
}

async function hasN5Level0(dir: string): Promise<boolean> {
  return isN5ArrayAttributes(await readN5Attributes(path.join(dir, "s0")).catch(() => undefined));
}

/**
 * The top of the Zarr hierarchy that contains `dir`: the highest ancestor (or `dir` itself) that is
 * still a Zarr group or array, so array paths can be given relative to the dataset container.
 */
export async function findZarrRoot(dir: string): Promise<string> {
  let cur = path.resolve(dir);
  for (;;) {
    const parent = path.dirname(cur);
    if (parent === cur) return cur;
    // An unreadable parent is outside the dataset as far as we can tell.
    const node = await detectNode(parent).catch(() => undefined);
    if (!node || node.format === "n5" || node.type === "array") return cur;
    cur = parent;
  }
}

export interface ArrayEntry {
  /** Path relative to the walked root, "/"-separated ("" when the root itself is the array). */
  readonly path: string;
  readonly node: StoreNode;
}

const MAX_DEPTH = 8;

/**
 * Every array below `root`: multiscale groups count as one array (their levels are not listed
 * separately), plain arrays count on their own; groups are walked, sorted by path. Directories
 * without metadata are walked too (N5 groups may have none), except chunk directories.
 */
export async function walkArrays(root: string): Promise<ArrayEntry[]> {
  const out: ArrayEntry[] = [];
  const visit = async (dir: string, rel: string, depth: number, node: StoreNode | undefined) => {
    if (node && node.type !== "group") {
      out.push({ path: rel, node });
      return;
    }
    if (depth >= MAX_DEPTH) return;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (e) {
      throw fromFsError(e, dir, "listing a group");
    }
    const names = entries
      .filter((e) => e.isDirectory() && !e.name.startsWith("."))
      .map((e) => e.name)
      .sort();
    for (const name of names) {
      const child = path.join(dir, name);
      const childNode = await detectNode(child);
      // Unmarked numeric directories are chunk grids, not groups.
      if (!childNode && /^\d+$/.test(name)) continue;
      await visit(child, rel ? `${rel}/${name}` : name, depth + 1, childNode);
    }
  };
  await visit(root, "", 0, await detectNode(root));
  return out;
}
