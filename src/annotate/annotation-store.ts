import * as fs from "node:fs";
import * as path from "node:path";
import { type Coordinate, coord, equals, format } from "../core/coordinate.ts";
import { invalidArgument, isOrganelleError, notFound } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { Roi, VoxelBox } from "../core/roi.ts";
import { exclusionArrayPath } from "../gt/exclusion.ts";
import { exclusionZone } from "../gt/label-morphology.ts";
import { finishPendingSwap, labelArrayPath } from "../gt/labels.ts";
import { getPreset, type OrganellePreset } from "../gt/presets.ts";
import { addRoi, type LabelRoi, type RoiRole, readRois, roisToJson } from "../gt/rois.ts";
import { connectedComponents } from "../ops/connected-components.ts";
import { fillHoles } from "../ops/fill-holes.ts";
import { removeSmallObjects } from "../ops/remove-small.ts";
import { setAttrs } from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";

/*
 * The annotator's dataset side: reading the grey values (and an optional starting mask) of a ROI, and
 * saving a finished mask as ground truth the way the `gt` verbs leave it:
 *   - the preset's clean-up (SPEC §2: remove objects / fill holes smaller than N voxels), applied to
 *     the ROI (holes touching the ROI's border are not holes: the annotation ends there);
 *   - labels/<organelle> created on raw's grid when missing (uint8 binary, uint32 instances), only the
 *     ROI rewritten, marked incomplete while it is written;
 *   - the ROI registered as a training or validation block (organelle.rois; re-saving the same ROI
 *     updates it);
 *   - the preset's exclusion zone (dilate XOR erode, gt exclusion's semantics) recomputed for the ROI
 *     into labels/<organelle>_exclusion, from the labels around it (the zone reaches past the ROI);
 *   - the annotation recorded in the label array's attributes (organelle.annotations: time, edits).
 */

export interface AnnotationRegion {
  readonly datasetPath: string;
  readonly raw: Volume;
  /** The ROI on raw's grid (snapped outwards to whole voxels). */
  readonly roi: Roi;
  readonly box: VoxelBox;
  readonly image: Uint8Array | Uint16Array;
  /** 0/1 starting mask from `from` (null: none). */
  readonly start: Uint8Array | null;
}

/** Largest sub-volume a session holds: 256^3 voxels (the annotator is for blocks of ~1 um^3). */
export const MAX_SESSION_VOXELS = 256 ** 3;

/** Reads the grey values of `roi` from raw, and the starting mask from `from` if given. */
export async function readAnnotationRegion(
  datasetPath: string,
  o: { roi: Roi; raw?: string; from?: string; maxVoxels?: number },
): Promise<AnnotationRegion> {
  const ds = path.resolve(datasetPath);
  if (!fs.existsSync(ds)) throw notFound(`${datasetPath}: no such dataset`);
  const raw = await Volume.open(ds, o.raw ?? "raw");
  if (raw.meta.dtype !== "uint8" && raw.meta.dtype !== "uint16") {
    throw invalidArgument(
      `${raw.describe()} is ${raw.meta.dtype}; the annotator reads uint8 or uint16 grey values`,
    );
  }
  const roi = o.roi.snapToGrid(raw.meta.voxelSize, "grow", raw.meta.offset);
  if (!raw.roi.contains(roi)) {
    throw invalidArgument(`roi ${roi}: must lie inside ${raw.describe()}, which covers ${raw.roi}`);
  }
  const box = raw.boxOf(roi);
  const voxels = box.shape[0] * box.shape[1] * box.shape[2];
  const max = o.maxVoxels ?? MAX_SESSION_VOXELS;
  if (box.shape.some((s) => s < 2) || voxels > max) {
    throw invalidArgument(
      `roi ${roi}: ${format(box.shape)} voxels; a session needs >= 2 voxels per axis and at most ${max.toLocaleString("en")} voxels (about ${Math.round(Math.cbrt(max))}^3)`,
    );
  }
  const image = (await raw.readBox(box)) as Uint8Array | Uint16Array;
  const start = o.from ? await readStartMask(ds, o.from, raw, roi) : null;
  return { datasetPath: ds, raw, roi, box, image, start };
}

/**
 * A prediction or label array as a 0/1 mask of the ROI: probabilities (`.../prob`, float arrays) at
 * >= 0.5 (uint8 probabilities are round(p * 255): >= 128), anything else non-zero.
 */
async function readStartMask(ds: string, from: string, raw: Volume, roi: Roi): Promise<Uint8Array> {
  let v: Volume;
  try {
    v = await Volume.open(ds, from);
  } catch (e) {
    if (isOrganelleError(e, "NotFound"))
      throw notFound(`from ${from}: no such array in ${ds} (e.g. predictions/<model>/<organelle>/seg)`);
    throw e;
  }
  if (!equals(v.meta.voxelSize, raw.meta.voxelSize)) {
    throw invalidArgument(
      `from ${v.describe()}: voxel size ${format(v.meta.voxelSize)} nm, raw's is ${format(raw.meta.voxelSize)} nm; load an array on raw's grid`,
    );
  }
  if (!roi.isAligned(v.meta.voxelSize, v.meta.offset)) {
    throw invalidArgument(`from ${v.describe()}: its voxels are not aligned with raw's`);
  }
  const data = await v.readRoi(roi);
  const isFloat = data instanceof Float32Array || data instanceof Float64Array;
  const probability = isFloat || path.basename(from) === "prob";
  const cut = isFloat ? 0.5 : probability ? 128 : 1;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]!) >= cut ? 1 : 0;
  return out;
}

export interface AnnotationRecord {
  /** ROI name in organelle.rois. */
  readonly roi: string;
  readonly role: RoiRole;
  readonly offset: readonly number[];
  readonly shape: readonly number[];
  /** Annotation time (gaps between edits capped), seconds. */
  readonly seconds: number;
  /** Wall time from opening the session to saving, seconds. */
  readonly wallSeconds: number;
  readonly strokes: number;
  readonly corrections: number;
  readonly segments: number;
  readonly supervoxels: number;
  readonly foregroundVoxels: number;
  readonly instances: number | null;
  readonly from: string | null;
  readonly saved: string;
}

export interface SaveAnnotationOptions {
  readonly organelle: string;
  readonly roi: Roi;
  /** 0/1 per voxel of the ROI (C order), on raw's grid. */
  readonly mask: Uint8Array;
  readonly role: RoiRole;
  /** Instance labels (connected components, uint32) instead of binary; default: what the array holds. */
  readonly instance?: boolean;
  /** ROI name (default training-N / validation-N, or the name of the same ROI saved before). */
  readonly name?: string;
  readonly raw?: string;
  readonly record: Omit<
    AnnotationRecord,
    "roi" | "role" | "offset" | "shape" | "foregroundVoxels" | "instances" | "saved"
  >;
}

export interface SaveAnnotationResult {
  readonly array: string;
  readonly exclusion: string | null;
  readonly roi: LabelRoi;
  readonly cleanup: { readonly removedVoxels: number; readonly filledVoxels: number };
  readonly record: AnnotationRecord;
  readonly warnings: readonly string[];
  /** tables/annotation-time.csv, every annotation of the dataset. */
  readonly table: {
    readonly csvPath: string;
    readonly columns: string[];
    readonly rows: (string | number | null)[][];
  };
}

export async function saveAnnotation(
  datasetPath: string,
  o: SaveAnnotationOptions,
): Promise<SaveAnnotationResult> {
  const ds = path.resolve(datasetPath);
  const preset = getPreset(o.organelle);
  const raw = await Volume.open(ds, o.raw ?? "raw");
  const box = raw.boxOf(o.roi);
  const shape = box.shape;
  const n = shape[0] * shape[1] * shape[2];
  if (o.mask.length !== n) throw invalidArgument(`save: mask has ${o.mask.length} voxels, the ROI ${n}`);

  const cleaned = cleanUp(o.mask, shape, preset);
  const arrayPath = labelArrayPath(preset);
  await finishPendingSwap(ds, arrayPath);
  let labels = await openOrUndefined(ds, arrayPath);
  if (labels) {
    if (
      !equals(labels.meta.voxelSize, raw.meta.voxelSize) ||
      !o.roi.isAligned(labels.meta.voxelSize, labels.meta.offset)
    ) {
      throw invalidArgument(
        `${labels.describe()} is at ${format(labels.meta.voxelSize)} nm, not on raw's grid (${format(raw.meta.voxelSize)} nm); move it aside or annotate another organelle`,
      );
    }
    if (!labels.roi.contains(o.roi))
      throw invalidArgument(`${labels.describe()} does not cover the ROI ${o.roi}`);
  }
  const existingInstances = labels ? labels.meta.dtype !== "uint8" : undefined;
  const instances = o.instance ?? existingInstances ?? false;
  if (labels && instances !== existingInstances) {
    throw invalidArgument(
      `${labels.describe()} holds ${existingInstances ? "instance ids" : "binary labels (uint8)"}; save with instance: ${existingInstances}`,
    );
  }
  if (!labels) {
    labels = await Volume.create(ds, arrayPath, {
      shape: raw.meta.shape,
      dtype: instances ? "uint32" : "uint8",
      voxelSize: raw.meta.voxelSize,
      offset: raw.meta.offset,
      chunks: raw.meta.chunks,
      format: raw.meta.format,
      kind: "label",
    });
  }
  const records = readRecords(labels.attrs);
  let data: Uint8Array | Uint16Array | Uint32Array = cleaned.mask;
  let instanceCount: number | null = null;
  let idRange: [number, number] | undefined;
  if (instances) {
    const cc = connectedComponents(cleaned.mask, shape);
    const base = records.reduce((m, r) => Math.max(m, r.idRange?.[1] ?? 0), 0) || (await maxLabel(labels));
    const limit = labels.meta.dtype === "uint16" ? 65535 : 4294967295;
    if (base + cc.count > limit)
      throw invalidArgument(`${labels.describe()}: instance ids would pass ${limit}`);
    const ids = labels.meta.dtype === "uint16" ? new Uint16Array(n) : new Uint32Array(n);
    for (let i = 0; i < n; i++) ids[i] = cc.labels[i] ? cc.labels[i]! + base : 0;
    data = ids;
    instanceCount = cc.count;
    idRange = [base + 1, base + cc.count];
  }
  await labels.markComplete(false);
  await labels.writeBox(labels.boxOf(o.roi), data);
  await labels.markComplete(true);

  // The ROI: the same box saved before keeps its name (and takes the new role).
  const warnings: string[] = [];
  const fresh = await Volume.open(ds, arrayPath);
  const rois = readRois(fresh.attrs, fresh.describe());
  const same = rois.find((r) => r.roi.equals(o.roi));
  let roi: LabelRoi;
  if (same) {
    roi = { name: same.name, role: o.role, roi: same.roi };
    if (same.role !== o.role) {
      await setAttrs(ds, arrayPath, { rois: roisToJson(rois.map((r) => (r === same ? roi : r))) });
      warnings.push(`ROI '${same.name}' was a ${same.role} block; it is now a ${o.role} block`);
    }
  } else {
    const added = await addRoi(ds, preset.name, {
      roi: o.roi,
      role: o.role,
      ...(o.name ? { name: o.name } : {}),
    });
    roi = added.roi;
    warnings.push(...added.warnings);
  }

  const exclusion = preset.exclusion ? await writeExclusion(ds, fresh, arrayPath, preset, o.roi) : null;
  if (!preset.exclusion)
    warnings.push(`the sources give no exclusion zone for ${preset.title}; none written`);

  let fg = 0;
  for (let i = 0; i < n; i++) fg += cleaned.mask[i]!;
  const record: AnnotationRecord = {
    ...o.record,
    roi: roi.name,
    role: o.role,
    offset: [...o.roi.begin],
    shape: [...o.roi.shape],
    foregroundVoxels: fg,
    instances: instanceCount,
    saved: new Date().toISOString(),
  };
  const stored: StoredRecord = { ...record, ...(idRange ? { idRange } : {}) };
  const kept = readRecords((await Volume.open(ds, arrayPath)).attrs).filter((r) => r.roi !== roi.name);
  await setAttrs(ds, arrayPath, { annotations: [...kept, stored] });
  const table = await writeAnnotationTable(ds);
  return {
    array: arrayPath,
    exclusion,
    roi,
    cleanup: { removedVoxels: cleaned.removed, filledVoxels: cleaned.filled },
    record,
    warnings,
    table,
  };
}

type StoredRecord = AnnotationRecord & { idRange?: [number, number] };

function readRecords(attrs: Record<string, unknown>): StoredRecord[] {
  const a = attrs.annotations;
  return Array.isArray(a) ? (a.filter((r) => r && typeof r === "object") as StoredRecord[]) : [];
}

async function openOrUndefined(ds: string, arrayPath: string): Promise<Volume | undefined> {
  try {
    return await Volume.open(ds, arrayPath, { allowIncomplete: true });
  } catch (e) {
    if (isOrganelleError(e, "NotFound")) return undefined;
    throw e;
  }
}

/** The largest id of an instance array without annotation records (read chunk rows at a time). */
async function maxLabel(v: Volume): Promise<number> {
  const [d, h, w] = v.meta.shape;
  const slab = Math.max(1, v.meta.chunks[0]);
  let max = 0;
  for (let z = 0; z < d; z += slab) {
    const data = await v.readBox({ begin: coord(z, 0, 0), shape: coord(Math.min(slab, d - z), h, w) });
    for (let i = 0; i < data.length; i++) if (Number(data[i]!) > max) max = Number(data[i]!);
  }
  return max;
}

/** SPEC §2 clean-up of a binary ROI mask: small objects removed, then small holes filled. */
export function cleanUp(
  mask: Uint8Array,
  shape: Coordinate,
  preset: OrganellePreset,
): { mask: Uint8Array; removed: number; filled: number } {
  const count = (m: Uint8Array) => m.reduce((s, v) => s + (v ? 1 : 0), 0);
  const before = count(mask);
  let out: Uint8Array = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  const minSize = preset.cleanup.removeObjectsSmallerThan;
  if (minSize > 0) out = removeSmallObjects(out, shape, minSize);
  const afterRemove = count(out);
  const holes = preset.cleanup.fillHolesSmallerThan;
  if (holes > 0) out = fillHoles(out, shape, { smallerThan: holes, includeBorder: false });
  return { mask: out, removed: before - afterRemove, filled: count(out) - afterRemove };
}

/** Recomputes the exclusion zone of the ROI from the labels around it (zeros beyond the volume). */
async function writeExclusion(
  ds: string,
  labels: Volume,
  arrayPath: string,
  preset: OrganellePreset,
  roi: Roi,
): Promise<string> {
  // boxes on each array's own grid: a label array may start elsewhere than raw
  const box = labels.boxOf(roi);
  const { dilate, erode } = preset.exclusion!;
  const reach = Math.max(dilate, erode);
  const grown: VoxelBox = {
    begin: coord(box.begin[0] - reach, box.begin[1] - reach, box.begin[2] - reach),
    shape: coord(box.shape[0] + 2 * reach, box.shape[1] + 2 * reach, box.shape[2] + 2 * reach),
  };
  const around = await labels.readBox(grown);
  const zone = exclusionZone(around as ArrayLike<number>, grown.shape, dilate, erode, "cross");
  const out = new Uint8Array(box.shape[0] * box.shape[1] * box.shape[2]);
  copyBox3d(zone, grown.shape, coord(reach, reach, reach), out, box.shape, coord(0, 0, 0), box.shape);
  const outPath = exclusionArrayPath(arrayPath);
  let v = await openOrUndefined(ds, outPath);
  if (v && !equals(v.meta.voxelSize, labels.meta.voxelSize)) {
    throw invalidArgument(
      `${v.describe()} is not on the grid of ${labels.describe()}; remove it and save again`,
    );
  }
  if (!v) {
    v = await Volume.create(ds, outPath, {
      shape: labels.meta.shape,
      dtype: "uint8",
      voxelSize: labels.meta.voxelSize,
      offset: labels.meta.offset,
      chunks: labels.meta.chunks,
      format: labels.meta.format,
      kind: "mask",
      attrs: { exclusion: { labels: arrayPath, dilate, erode, structure: "cross" } },
    });
  }
  await v.markComplete(false);
  await v.writeBox(v.boxOf(roi), out);
  await v.markComplete(true);
  return outPath;
}

export const ANNOTATION_TABLE = "annotation-time";
const TABLE_COLUMNS = [
  "Block",
  "Organelle",
  "ROI",
  "Role",
  "Offset (nm)",
  "Shape (nm)",
  "Volume (um^3)",
  "Annotation time (s)",
  "Hours per um^3",
  "Strokes",
  "Corrections",
  "Segments",
  "Foreground voxels",
  "From",
  "Saved",
];

/** Writes tables/annotation-time.csv from the records of every label array of the dataset. */
async function writeAnnotationTable(ds: string) {
  const rows: (string | number | null)[][] = [];
  const dir = path.join(ds, "labels");
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  for (const name of names) {
    if (name.endsWith("_exclusion") || name.startsWith(".")) continue;
    const v = await openOrUndefined(ds, `labels/${name}`).catch(() => undefined);
    if (!v) continue;
    for (const r of readRecords(v.attrs)) {
      const um3 = (r.shape as number[]).reduce((a, b) => a * b, 1) / 1e9;
      rows.push([
        rows.length + 1,
        name,
        r.roi,
        r.role,
        (r.offset as number[]).join(","),
        (r.shape as number[]).join(","),
        Number(um3.toFixed(6)),
        Number(r.seconds.toFixed(1)),
        um3 > 0 ? Number((r.seconds / 3600 / um3).toFixed(4)) : null,
        r.strokes,
        r.corrections,
        r.segments,
        r.foregroundVoxels,
        r.from,
        r.saved,
      ]);
    }
  }
  const csvPath = path.join(ds, "tables", `${ANNOTATION_TABLE}.csv`);
  await fs.promises.mkdir(path.dirname(csvPath), { recursive: true });
  const cell = (v: string | number | null) => {
    const s = v === null ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const text = [TABLE_COLUMNS, ...rows].map((r) => r.map(cell).join(",")).join("\n");
  const tmp = `${csvPath}.tmp-${process.pid}`;
  await fs.promises.writeFile(tmp, `${text}\n`);
  await fs.promises.rename(tmp, csvPath);
  return { csvPath, columns: [...TABLE_COLUMNS], rows };
}
