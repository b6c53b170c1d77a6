import * as fs from "node:fs";
import * as path from "node:path";
import { type Coordinate, coord, coordFrom } from "../core/coordinate.ts";
import { invalidData, notFound } from "../core/errors.ts";
import { readJson, writeJsonAtomic } from "./volume.ts";

/** How an array's values are interpreted: decides pyramid downsampling (mean vs mode) and OME label metadata. */
export type ArrayKind = "intensity" | "label" | "mask";

/** One pyramid level. `offset` is the world position (nm) of the corner of voxel 0, equal on every level. */
export interface MultiscaleLevel {
  readonly path: string;
  readonly voxelSize: Coordinate;
  readonly offset: Coordinate;
}

export interface OrganelleAttrs {
  kind?: ArrayKind;
  /** false while the array is being written; readers refuse incomplete arrays. */
  complete?: boolean;
  [key: string]: unknown;
}

export interface MultiscaleGroup {
  format: "0.4" | "0.5";
  levels: readonly MultiscaleLevel[];
  kind: ArrayKind;
  organelle: OrganelleAttrs;
  /** Other attributes found on the group, kept as they are. */
  extra?: Record<string, unknown>;
}

const AXES = [
  { name: "z", type: "space", unit: "nanometer" },
  { name: "y", type: "space", unit: "nanometer" },
  { name: "x", type: "space", unit: "nanometer" },
];

/*
 * OME-NGFF places a voxel's coordinate at its centre, so a level downsampled by f has its first voxel
 * centre shifted by (f-1)/2 level-0 voxels. We keep corner offsets internally (they are equal on all levels)
 * and convert at the metadata boundary.
 */
function toOmeTranslation(level: MultiscaleLevel, base: Coordinate): number[] {
  return [0, 1, 2].map((d) => level.offset[d]! + (level.voxelSize[d]! - base[d]!) / 2);
}

function fromOmeTranslation(t: number[], scale: number[], base: number[]): Coordinate {
  return coord(
    (t[0] ?? 0) - (scale[0]! - base[0]!) / 2,
    (t[1] ?? 0) - (scale[1]! - base[1]!) / 2,
    (t[2] ?? 0) - (scale[2]! - base[2]!) / 2,
  );
}

function multiscalesEntry(
  name: string,
  levels: readonly MultiscaleLevel[],
  kind: ArrayKind,
  version?: string,
) {
  const base = levels[0]!.voxelSize;
  return {
    ...(version ? { version } : {}),
    name,
    axes: AXES,
    datasets: levels.map((l) => ({
      path: l.path,
      coordinateTransformations: [
        { type: "scale", scale: [...l.voxelSize] },
        { type: "translation", translation: toOmeTranslation(l, base) },
      ],
    })),
    type: kind === "intensity" ? "mean" : "mode",
    metadata: { method: kind === "intensity" ? "mean over 2x2x2" : "mode over 2x2x2" },
  };
}

function labelsMatch(arrayPath: string): string | undefined {
  return /^labels\/([^/]+)$/.exec(arrayPath)?.[1];
}

export async function writeMultiscaleGroup(
  datasetPath: string,
  arrayPath: string,
  g: MultiscaleGroup,
): Promise<void> {
  const dir = path.join(datasetPath, arrayPath);
  const name = path.basename(arrayPath);
  const labelName = labelsMatch(arrayPath);
  const imageLabel =
    g.kind !== "intensity" && labelName !== undefined
      ? {
          "image-label": {
            ...(g.format === "0.4" ? { version: "0.4" } : {}),
            source: { image: "../../raw" },
          },
        }
      : {};
  await ensureIntermediateGroups(datasetPath, arrayPath, g.format);
  if (g.format === "0.4") {
    await writeJsonAtomic(path.join(dir, ".zgroup"), { zarr_format: 2 });
    await writeJsonAtomic(path.join(dir, ".zattrs"), {
      ...(g.extra ?? {}),
      multiscales: [multiscalesEntry(name, g.levels, g.kind, "0.4")],
      ...imageLabel,
      organelle: g.organelle,
    });
  } else {
    await writeJsonAtomic(path.join(dir, "zarr.json"), {
      zarr_format: 3,
      node_type: "group",
      attributes: {
        ...(g.extra ?? {}),
        ome: { version: "0.5", multiscales: [multiscalesEntry(name, g.levels, g.kind)], ...imageLabel },
        organelle: g.organelle,
      },
    });
  }
  if (labelName !== undefined) await registerLabel(datasetPath, labelName, g.format);
}

/** Zarr hierarchies need every parent to be a group, or readers cannot walk to the array. */
async function ensureIntermediateGroups(datasetPath: string, arrayPath: string, format: "0.4" | "0.5") {
  const parts = arrayPath.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const dir = path.join(datasetPath, ...parts.slice(0, i));
    const v2 = path.join(dir, ".zgroup");
    const v3 = path.join(dir, "zarr.json");
    if (fs.existsSync(v2) || fs.existsSync(v3)) continue;
    if (format === "0.4") await writeJsonAtomic(v2, { zarr_format: 2 });
    else await writeJsonAtomic(v3, { zarr_format: 3, node_type: "group", attributes: {} });
  }
}

/** The OME-Zarr labels convention: the `labels` group lists its label images. */
async function registerLabel(datasetPath: string, name: string, format: "0.4" | "0.5"): Promise<void> {
  const dir = path.join(datasetPath, "labels");
  if (format === "0.4") {
    const file = path.join(dir, ".zattrs");
    const cur = fs.existsSync(file) ? ((await readJson(file)) as { labels?: string[] }) : {};
    const labels = new Set(cur.labels ?? []);
    if (labels.has(name)) return;
    labels.add(name);
    await writeJsonAtomic(file, { ...cur, labels: [...labels].sort() });
  } else {
    const file = path.join(dir, "zarr.json");
    const cur = (
      fs.existsSync(file) ? await readJson(file) : { zarr_format: 3, node_type: "group", attributes: {} }
    ) as { attributes?: { ome?: { labels?: string[] } } };
    const attrs = cur.attributes ?? {};
    const labels = new Set(attrs.ome?.labels ?? []);
    if (labels.has(name)) return;
    labels.add(name);
    await writeJsonAtomic(file, {
      ...cur,
      attributes: { ...attrs, ome: { version: "0.5", ...(attrs.ome ?? {}), labels: [...labels].sort() } },
    });
  }
}

interface OmeDataset {
  path?: string;
  coordinateTransformations?: { type: string; scale?: number[]; translation?: number[] }[];
}

export async function readMultiscaleGroup(datasetPath: string, arrayPath: string): Promise<MultiscaleGroup> {
  const dir = path.join(datasetPath, arrayPath);
  let format: "0.4" | "0.5";
  let attrs: Record<string, unknown>;
  if (fs.existsSync(path.join(dir, "zarr.json"))) {
    format = "0.5";
    const meta = (await readJson(path.join(dir, "zarr.json"))) as { attributes?: Record<string, unknown> };
    attrs = meta.attributes ?? {};
  } else if (fs.existsSync(path.join(dir, ".zattrs"))) {
    format = "0.4";
    attrs = (await readJson(path.join(dir, ".zattrs"))) as Record<string, unknown>;
  } else if (fs.existsSync(dir)) {
    throw invalidData(`${dir}: not an OME-Zarr multiscale group (no .zattrs or zarr.json)`);
  } else {
    throw notFound(`${dir}: no such array in the dataset`);
  }
  const ome = (format === "0.5" ? attrs.ome : attrs) as { multiscales?: unknown[] } | undefined;
  const ms = ome?.multiscales?.[0] as { datasets?: OmeDataset[] } | undefined;
  if (!ms?.datasets?.length) throw invalidData(`${dir}: no OME-Zarr 'multiscales' metadata`);
  const organelle = (attrs.organelle ?? {}) as OrganelleAttrs;
  const levels: MultiscaleLevel[] = [];
  let base: number[] | undefined;
  for (const ds of ms.datasets) {
    const t = ds.coordinateTransformations ?? [];
    const scale = t.find((x) => x.type === "scale")?.scale ?? [1, 1, 1];
    const translation = t.find((x) => x.type === "translation")?.translation ?? [0, 0, 0];
    if (scale.length !== 3 || translation.length !== 3) {
      throw invalidData(`${dir}: only 3D (z,y,x) multiscales are supported`);
    }
    base ??= scale;
    levels.push({
      path: String(ds.path ?? `s${levels.length}`),
      voxelSize: coordFrom(scale, "scale"),
      offset: fromOmeTranslation(translation, scale, base),
    });
  }
  const isLabel =
    "image-label" in attrs || (format === "0.5" && "image-label" in ((attrs.ome as object) ?? {}));
  const kind: ArrayKind = organelle.kind ?? (isLabel ? "label" : "intensity");
  const { multiscales: _m, organelle: _o, ome: _ome, "image-label": _il, ...extra } = attrs;
  return { format, levels, kind, organelle, extra };
}
