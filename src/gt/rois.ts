import { type Coordinate, format } from "../core/coordinate.ts";
import { invalidArgument, invalidData, isOrganelleError } from "../core/errors.ts";
import { Roi, type VoxelBox } from "../core/roi.ts";
import { setAttrs } from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import { openLabels } from "./labels.ts";
import { GT_BORDER_CONTEXT_VOXELS } from "./presets.ts";

/*
 * Training and validation ROIs of a label array, kept in its attributes:
 *   organelle.rois = [{ "name": "training-1", "role": "training", "offset": [z,y,x], "shape": [z,y,x] }]
 * in nm, world coordinates (like every ROI in organelle). A ROI must lie on the label array's voxel
 * grid and inside it; closer than 47 voxels (the network's context, SPEC §2) to the border of the
 * volume (raw) is allowed but warned about, as is a validation ROI overlapping a training ROI.
 */

export type RoiRole = "training" | "validation";
export const ROI_ROLES: readonly RoiRole[] = ["training", "validation"];

export interface LabelRoi {
  readonly name: string;
  readonly role: RoiRole;
  readonly roi: Roi;
}

/** The ROIs recorded in an array's `organelle` attributes (none: empty). */
export function readRois(attrs: Record<string, unknown>, where: string): LabelRoi[] {
  const raw = attrs.rois;
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalidData(`${where}: attribute organelle.rois is not a list`);
  return raw.map((r, i) => {
    const o = r as { name?: unknown; role?: unknown };
    if (typeof o?.name !== "string" || !ROI_ROLES.includes(o.role as RoiRole)) {
      throw invalidData(`${where}: organelle.rois[${i}] needs a name and a role (training or validation)`);
    }
    return { name: o.name, role: o.role as RoiRole, roi: Roi.fromJSON(r, `${where}: organelle.rois[${i}]`) };
  });
}

export function roisToJson(rois: readonly LabelRoi[]): unknown[] {
  return rois.map((r) => ({ name: r.name, role: r.role, ...r.roi.toJSON() }));
}

export interface RoiListing {
  readonly array: string;
  readonly voxelSize: Coordinate;
  readonly offset: Coordinate;
  readonly rois: readonly (LabelRoi & { readonly voxels: VoxelBox; readonly borderVoxels: number })[];
}

/** The ROIs of `labels/<organelle>` with their voxel boxes and distance to the volume border. */
export async function listRois(datasetPath: string, organelle: string): Promise<RoiListing> {
  const { volume, arrayPath } = await openLabels(datasetPath, organelle, { allowIncomplete: true });
  const frame = await volumeFrame(datasetPath, volume);
  const rois = readRois(volume.attrs, volume.describe()).map((r) => ({
    ...r,
    voxels: r.roi.toVoxels(volume.meta.voxelSize, volume.meta.offset),
    borderVoxels: borderDistance(r.roi, frame, volume.meta.voxelSize),
  }));
  return { array: arrayPath, voxelSize: volume.meta.voxelSize, offset: volume.meta.offset, rois };
}

export interface AddRoiOptions {
  /** World ROI (nm) ... */
  readonly roi?: Roi;
  /** ... or a box of voxels of the label array. */
  readonly voxels?: VoxelBox;
  readonly role: string;
  readonly name?: string;
}

export interface AddRoiResult {
  readonly array: string;
  readonly roi: LabelRoi;
  readonly voxels: VoxelBox;
  readonly warnings: readonly string[];
}

/** Adds a training or validation ROI to `labels/<organelle>` after checking it. */
export async function addRoi(
  datasetPath: string,
  organelle: string,
  o: AddRoiOptions,
): Promise<AddRoiResult> {
  if (!ROI_ROLES.includes(o.role as RoiRole)) {
    throw invalidArgument(`--role ${o.role}: must be training or validation`);
  }
  const role = o.role as RoiRole;
  if ((o.roi === undefined) === (o.voxels === undefined)) {
    throw invalidArgument("give the ROI with either --roi z,y,x:dz,dy,dx (nm) or --voxels z,y,x:dz,dy,dx");
  }
  const {
    volume,
    arrayPath,
    datasetPath: ds,
  } = await openLabels(datasetPath, organelle, { allowIncomplete: true });
  const vs = volume.meta.voxelSize;
  const roi = o.roi ?? Roi.fromVoxels(o.voxels!, vs, volume.meta.offset);
  let voxels: VoxelBox;
  try {
    voxels = roi.toVoxels(vs, volume.meta.offset);
  } catch {
    throw invalidArgument(
      `--roi ${roi}: does not lie on the voxel grid of ${volume.describe()} (voxel size ${format(vs)} nm, offset ${format(volume.meta.offset)} nm); use multiples of the voxel size or --voxels`,
    );
  }
  if (!volume.roi.contains(roi)) {
    throw invalidArgument(`--roi ${roi}: lies outside ${volume.describe()}, which covers ${volume.roi}`);
  }
  const existing = readRois(volume.attrs, volume.describe());
  const name = o.name ?? nextName(role, existing);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw invalidArgument(`--name ${name}: use letters, digits, '.', '_' or '-'`);
  }
  if (existing.some((r) => r.name === name)) {
    throw invalidArgument(`${volume.describe()} already has a ROI named '${name}'; choose another --name`);
  }
  const warnings: string[] = [];
  const frame = await volumeFrame(ds, volume);
  const border = borderDistance(roi, frame, vs);
  if (border < GT_BORDER_CONTEXT_VOXELS) {
    warnings.push(
      `ROI '${name}' lies ${border} voxels from the border of the volume (${frame}); ground truth should lie >= ${GT_BORDER_CONTEXT_VOXELS} voxels inside (the network's context), or the ROI's border voxels cannot be used for training`,
    );
  }
  for (const r of existing) {
    if (r.role !== role && r.roi.intersects(roi)) {
      warnings.push(
        `${role} ROI '${name}' overlaps ${r.role} ROI '${r.name}': validation would see training data`,
      );
    }
  }
  const added: LabelRoi = { name, role, roi };
  await setAttrs(ds, arrayPath, { rois: roisToJson([...existing, added]) });
  return { array: arrayPath, roi: added, voxels, warnings };
}

function nextName(role: RoiRole, existing: readonly LabelRoi[]): string {
  for (let i = 1; ; i++) {
    const n = `${role}-${i}`;
    if (!existing.some((r) => r.name === n)) return n;
  }
}

/** The volume the labels annotate: raw's ROI when the dataset has raw, else the label array's. */
async function volumeFrame(datasetPath: string, labels: Volume): Promise<Roi> {
  const raw = await Volume.open(datasetPath, "raw", { allowIncomplete: true }).catch((e) => {
    if (isOrganelleError(e)) return undefined;
    throw e;
  });
  return raw ? raw.roi : labels.roi;
}

/** Smallest distance (whole voxels) between the ROI and the frame's border, over the six sides. */
export function borderDistance(roi: Roi, frame: Roi, voxelSize: Coordinate): number {
  let best = Number.POSITIVE_INFINITY;
  for (let d = 0; d < 3; d++) {
    const before = (roi.begin[d]! - frame.begin[d]!) / voxelSize[d]!;
    const after = (frame.end[d]! - roi.end[d]!) / voxelSize[d]!;
    best = Math.min(best, before, after);
  }
  return Math.floor(best + 1e-9);
}

/** The ROIs that survive a crop to `crop`, clipped to it (those outside are dropped). */
export function cropRois(rois: readonly LabelRoi[], crop: Roi): LabelRoi[] {
  return rois.map((r) => ({ ...r, roi: r.roi.intersect(crop) })).filter((r) => !r.roi.empty);
}
