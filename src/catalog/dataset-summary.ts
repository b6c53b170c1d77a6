import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { walkArrays } from "../store/hierarchy.ts";
import { type ArrayInfo, describePath, isReadable } from "../store/info.ts";

/*
 * What the catalogue keeps about a dataset container: the fields of the API's DatasetSummary and the
 * dataset page (arrays with their pyramid levels, ROIs, meshes, metadata), computed from the
 * container's own metadata. Tables and views come from the catalogue itself at request time.
 */

export type ArrayGroup = "em" | "masks" | "labels" | "predictions" | "segmentations" | "analysis";
export type ApiArrayKind = "intensity" | "probability" | "label" | "mask";

export interface ScaleSummary {
  readonly path: string;
  readonly shape: number[];
  readonly voxelSize: number[];
  readonly chunks: number[];
}

export interface ArraySummary {
  readonly path: string;
  readonly group: ArrayGroup;
  readonly kind: ApiArrayKind;
  readonly dtype: string;
  readonly shape: number[];
  readonly voxelSize: number[];
  readonly offset: number[];
  readonly chunks: number[];
  readonly scales: ScaleSummary[];
  readonly url: string;
  readonly format: string;
  readonly compression: string;
  readonly complete: boolean;
  readonly contrast?: [number, number];
  readonly color?: string;
}

export interface RoiSummary {
  readonly array: string;
  readonly name: string;
  readonly kind: "training" | "validation";
  readonly begin: number[];
  readonly shape: number[];
}

export interface MeshSetSummary {
  readonly name: string;
  readonly organelle: string;
  readonly url: string;
  readonly ids: number[];
  readonly plyUrl?: string;
}

export interface DatasetDetail {
  readonly id: string;
  readonly name: string;
  readonly title: string;
  readonly tags: string[];
  readonly cellType?: string;
  readonly voxelSize: number[];
  readonly shape: number[];
  readonly sizeBytes: number;
  readonly arrayCount: number;
  readonly thumbnail: string;
  readonly dataUrl: string;
  readonly format: string;
  readonly meta: Record<string, unknown>;
  readonly arrays: ArraySummary[];
  readonly rois: RoiSummary[];
  readonly meshes: MeshSetSummary[];
}

/** Colours of the usual organelle classes (COSEM-like), others from a hash of the name. */
const COLORS: Record<string, string> = {
  cell: "#808080",
  plasma_membrane: "#ffaa00",
  pm: "#ffaa00",
  nucleus: "#0055ff",
  nuclear_envelope: "#00aaff",
  ne: "#00aaff",
  nuclear_pore: "#aa00ff",
  np: "#aa00ff",
  mito: "#ff3300",
  er: "#33cc33",
  golgi: "#ffdd00",
  vesicle: "#ff66cc",
  ves: "#ff66cc",
  lipid_droplet: "#ffff99",
  ld: "#ffff99",
  endo: "#00cccc",
  lyso: "#cc6600",
  mt: "#cccccc",
  ccp: "#ff00ff",
};

export function organelleColor(name: string): string {
  const known = COLORS[name];
  if (known) return known;
  const h = createHash("sha1").update(name).digest();
  const hue = (h[0]! / 255) * 360;
  return hslHex(hue, 0.75, 0.55);
}

function hslHex(h: number, s: number, l: number): string {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    h < 60
      ? [c, x, 0]
      : h < 120
        ? [x, c, 0]
        : h < 180
          ? [0, c, x]
          : h < 240
            ? [0, x, c]
            : h < 300
              ? [x, 0, c]
              : [c, 0, x];
  const hex = (v: number) =>
    Math.round((v + m) * 255)
      .toString(16)
      .padStart(2, "0");
  return `#${hex(r)}${hex(g)}${hex(b)}`;
}

/** Encodes a dataset id (which holds "/") as one URL path segment for /api routes. */
export function apiId(id: string): string {
  return encodeURIComponent(id);
}

/** A path under /data with each segment encoded and the "/" kept (what zarr clients and Neuroglancer need). */
export function dataPath(id: string, inside = ""): string {
  const parts = [...id.split("/"), ...inside.split("/").filter(Boolean)];
  return `/data/${parts.map(encodeURIComponent).join("/")}`;
}

function groupOf(arrayPath: string, kind: string): ArrayGroup {
  const top = arrayPath.split("/")[0] ?? "";
  if (top === "masks" || top === "labels" || top === "predictions" || top === "segmentations") return top;
  if (kind === "intensity" && (top.startsWith("raw") || top === "em" || top === "")) return "em";
  return "analysis";
}

function apiKind(a: ArrayInfo, group: ArrayGroup): ApiArrayKind {
  if (a.kind === "mask" || a.path.endsWith("_exclusion")) return "mask";
  if (a.kind === "label") return "label";
  if (group === "predictions" && a.kind === "intensity") return "probability";
  return "intensity";
}

/** The organelle an array is about: labels/mito, segmentations/mito, predictions/<model>/mito/prob -> mito. */
export function organelleOf(arrayPath: string): string {
  const parts = arrayPath.split("/");
  if (parts[0] === "predictions" && parts.length >= 3) return parts[2]!;
  return (parts[parts.length - 1] ?? "").replace(/_exclusion$/, "");
}

function defaultContrast(dtype: string, kind: ApiArrayKind): [number, number] | undefined {
  if (kind === "label" || kind === "mask") return undefined;
  if (dtype === "uint8") return [0, 255];
  if (dtype === "uint16") return [0, 65535];
  if (dtype.startsWith("float")) return [0, 1];
  return undefined;
}

async function readJsonMaybe(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = JSON.parse(await fs.promises.readFile(file, "utf8")) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Describes the container at `abs` whose catalogue id is `id`. */
export async function summarizeDataset(abs: string, id: string): Promise<DatasetDetail> {
  const info = await describePath(abs);
  const nodes = await walkArrays(abs);
  const attrsOf = new Map(nodes.map((n) => [n.path, n.node.attrs]));
  const arrays: ArraySummary[] = [];
  const rois: RoiSummary[] = [];
  for (const a of info.arrays) {
    if (!isReadable(a)) continue;
    const group = groupOf(a.path, a.kind);
    const kind = apiKind(a, group);
    const contrast = defaultContrast(a.dtype, kind);
    const organelle = organelleOf(a.path);
    arrays.push({
      path: a.path,
      group,
      kind,
      dtype: a.dtype,
      shape: [...a.shape],
      voxelSize: [...a.voxelSize],
      offset: [...a.offset],
      chunks: [...a.chunks],
      scales: a.levels.map((l) => ({
        path: l.path,
        shape: [...l.shape],
        voxelSize: [...l.voxelSize],
        chunks: [...l.chunks],
      })),
      url: dataPath(id, a.path),
      format: a.format,
      compression: a.compression,
      complete: a.complete,
      ...(contrast ? { contrast } : {}),
      ...(group !== "em" ? { color: organelleColor(organelle) } : {}),
    });
    const attrs = attrsOf.get(a.path);
    const organelleAttrs = ((attrs?.ome as Record<string, unknown> | undefined)?.organelle ??
      attrs?.organelle) as { rois?: unknown } | undefined;
    if (Array.isArray(organelleAttrs?.rois)) {
      for (const r of organelleAttrs.rois as {
        name?: unknown;
        role?: unknown;
        offset?: unknown;
        shape?: unknown;
      }[]) {
        if (
          typeof r?.name === "string" &&
          (r.role === "training" || r.role === "validation") &&
          Array.isArray(r.offset) &&
          Array.isArray(r.shape)
        ) {
          rois.push({
            array: a.path,
            name: r.name,
            kind: r.role,
            begin: r.offset.map(Number),
            shape: r.shape.map(Number),
          });
        }
      }
    }
  }
  const root = await readJsonMaybe(path.join(abs, ".zattrs"));
  const rootV3 = await readJsonMaybe(path.join(abs, "zarr.json"));
  const rootAttrs = (root ?? (rootV3?.attributes as Record<string, unknown> | undefined) ?? {}) as {
    organelle?: { meta?: Record<string, unknown> };
  };
  const meta: Record<string, unknown> = { ...(rootAttrs.organelle?.meta ?? {}) };
  const synth = await readJsonMaybe(path.join(abs, "synth.json"));
  const settings = synth?.settings as Record<string, unknown> | undefined;
  if (settings) {
    meta.synthetic = {
      seed: settings.seed,
      extentNm: settings.extentNm,
      classes: settings.classes,
      imaging: settings.imaging,
    };
    meta.sample ??= `synthetic cell (organelle synth, seed ${String(settings.seed)})`;
  }
  const raw = arrays.find((a) => a.group === "em") ?? arrays[0];
  const name = path.posix.basename(id).replace(/\.(zarr|n5)$/, "");
  const organelles = [
    ...new Set(
      arrays
        .filter((a) => a.group === "labels" || a.group === "segmentations")
        .map((a) => organelleOf(a.path)),
    ),
  ];
  const metaTags = Array.isArray(meta.tags) ? meta.tags.map(String) : [];
  const cellType = typeof meta.cellType === "string" ? meta.cellType : settings ? "synthetic" : undefined;
  return {
    id,
    name,
    title: typeof meta.title === "string" ? meta.title : settings ? `${name} (synthetic cell)` : name,
    tags: [...new Set([...metaTags, ...(settings ? ["synthetic"] : []), ...organelles])],
    ...(cellType ? { cellType } : {}),
    voxelSize: raw ? [...raw.voxelSize] : [],
    shape: raw ? [...raw.shape] : [],
    sizeBytes: info.bytes,
    arrayCount: arrays.length,
    thumbnail: `/api/datasets/${apiId(id)}/thumbnail.png`,
    dataUrl: dataPath(id),
    format: info.format,
    meta,
    arrays,
    rois,
    meshes: await listMeshes(abs, id),
  };
}

/** Neuroglancer legacy mesh directories under meshes/ (an `info` file and `<id>:0` manifests). */
async function listMeshes(abs: string, id: string): Promise<MeshSetSummary[]> {
  const dir = path.join(abs, "meshes");
  let names: string[];
  try {
    names = (await fs.promises.readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
  const out: MeshSetSummary[] = [];
  for (const n of names.sort()) {
    const info = await readJsonMaybe(path.join(dir, n, "info"));
    if (!info) continue;
    const files = await fs.promises.readdir(path.join(dir, n));
    const ids = files
      .map((f) => /^(\d+):0$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const hasPly = files.some((f) => /^\d+\.ply$/.test(f));
    out.push({
      name: n,
      organelle: n,
      url: dataPath(id, `meshes/${n}`),
      ids,
      ...(hasPly ? { plyUrl: `${dataPath(id, `meshes/${n}`)}/{id}.ply` } : {}),
    });
  }
  return out;
}

/**
 * A cheap fingerprint of a container's metadata: the mtimes of its directories and metadata files,
 * skipping chunk directories. Unchanged fingerprint -> the stored summary is still right.
 */
export async function datasetSignature(abs: string): Promise<string> {
  const h = createHash("sha1");
  const visit = async (dir: string, rel: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const st = await fs.promises.stat(dir).catch(() => undefined);
    h.update(`${rel}:${st?.mtimeMs ?? 0}\n`);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth >= 8 || /^\d+$/.test(e.name) || e.name === "c") continue;
        await visit(p, `${rel}/${e.name}`, depth + 1);
      } else if (/^(\.zattrs|\.zarray|\.zgroup|zarr\.json|attributes\.json|synth\.json|info)$/.test(e.name)) {
        const fst = await fs.promises.stat(p).catch(() => undefined);
        h.update(`${rel}/${e.name}:${fst?.size ?? 0}:${fst?.mtimeMs ?? 0}\n`);
      }
    }
  };
  await visit(abs, "", 0);
  return h.digest("hex");
}
