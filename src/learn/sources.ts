import * as fs from "node:fs";
import * as path from "node:path";
import { type Coordinate, format } from "../core/coordinate.ts";
import { invalidArgument, invalidData, isOrganelleError } from "../core/errors.ts";
import { Roi, type VoxelBox } from "../core/roi.ts";
import { readRois } from "../gt/rois.ts";
import { openReader, type VolumeReader } from "../store/reader.ts";
import { Volume } from "../store/volume.ts";
import { type ChunkCache, readCached } from "./chunk-cache.ts";
import type { SourceConfig } from "./config.ts";

/*
 * A cell's arrays as training and validation read them: raw, labels, cell mask and exclusion zone, all
 * at the training voxel size (the pyramid level that has it) and on one voxel grid, plus the ROIs in
 * use. Every position the learner handles is a world box (nm) on this grid; `boxIn` converts it to an
 * array's voxels.
 */

export interface NamedRoi {
  readonly name: string;
  readonly roi: Roi;
}

export interface OpenedSource {
  readonly config: SourceConfig;
  readonly name: string;
  readonly raw: VolumeReader;
  readonly labels: VolumeReader;
  readonly mask: VolumeReader | null;
  readonly exclusion: VolumeReader | null;
  readonly voxelSize: Coordinate;
  /** World position of voxel (0,0,0) of raw: the grid every box lies on. */
  readonly origin: Coordinate;
  /** ROIs in use, on the grid (shrunk to whole voxels). */
  readonly rois: readonly NamedRoi[];
  /** Decoded chunks shared by all reads (null: read the store every time). */
  readonly cache: ChunkCache | null;
}

/** The level of `array` in `dataset` whose voxel size is `voxelSize` (null: level 0). */
async function openAtVoxelSize(
  dataset: string,
  array: string,
  voxelSize: Coordinate | null,
  what: string,
): Promise<VolumeReader> {
  const r0 = await openReader(dataset, { array });
  if (!voxelSize) return r0;
  const idx = r0.levels.findIndex((l) => sameVoxelSize(l.voxelSize, voxelSize));
  if (idx < 0) {
    const have = r0.levels.map((l) => format(l.voxelSize)).join(", ");
    throw invalidArgument(
      `${what} ${path.join(dataset, array)} has no level at voxel size ${format(voxelSize)} nm (it has ${have}); make one with 'organelle pyramid' or change voxel_size`,
    );
  }
  return idx === 0 ? r0 : openReader(dataset, { array, scale: idx });
}

function sameVoxelSize(a: Coordinate, b: Coordinate): boolean {
  return [0, 1, 2].every((d) => Math.abs(a[d]! - b[d]!) <= 1e-6 * Math.max(a[d]!, b[d]!));
}

async function optionalArray(
  dataset: string,
  choice: string | null | "auto",
  auto: string,
  voxelSize: Coordinate,
  what: string,
): Promise<VolumeReader | null> {
  if (choice === null) return null;
  const array = choice === "auto" ? auto : choice;
  if (choice === "auto" && !fs.existsSync(path.join(dataset, array))) return null;
  return openAtVoxelSize(dataset, array, voxelSize, what);
}

/** Opens a source's arrays and resolves its ROIs, reading through `cache` when given. */
export async function openSource(
  cfg: SourceConfig,
  voxelSize: Coordinate | null,
  cache: ChunkCache | null = null,
): Promise<OpenedSource> {
  const where = `source '${cfg.name}'`;
  const raw = await openAtVoxelSize(cfg.dataset, cfg.raw, voxelSize, `${where}: raw`);
  const vs = raw.meta.voxelSize;
  const labels = await openAtVoxelSize(cfg.dataset, cfg.labels, vs, `${where}: labels`);
  const mask = await optionalArray(cfg.dataset, cfg.mask, "masks/cell", vs, `${where}: mask`);
  const exclusion = await optionalArray(
    cfg.dataset,
    cfg.exclusion,
    `${cfg.labels}_exclusion`,
    vs,
    `${where}: exclusion`,
  );
  const origin = raw.meta.offset;
  for (const r of [labels, mask, exclusion]) {
    if (!r) continue;
    if (!sameVoxelSize(r.meta.voxelSize, vs)) {
      throw invalidData(
        `${r.describe()}: voxel size ${format(r.meta.voxelSize)} nm differs from raw's ${format(vs)} nm`,
      );
    }
    const shift = [0, 1, 2].map((d) => (r.meta.offset[d]! - origin[d]!) / vs[d]!);
    if (shift.some((s) => Math.abs(s - Math.round(s)) > 1e-6)) {
      throw invalidData(
        `${r.describe()}: its voxels are not aligned with raw's (offsets differ by a fraction of a voxel)`,
      );
    }
  }
  const rois = await resolveRois(cfg, labels, vs, origin);
  return { config: cfg, name: cfg.name, raw, labels, mask, exclusion, voxelSize: vs, origin, rois, cache };
}

async function resolveRois(
  cfg: SourceConfig,
  labels: VolumeReader,
  vs: Coordinate,
  origin: Coordinate,
): Promise<NamedRoi[]> {
  const where = `source '${cfg.name}' (${path.join(cfg.dataset, cfg.labels)})`;
  let rois: NamedRoi[];
  if (cfg.rois === "all") rois = [{ name: "all", roi: labels.roi }];
  else if (typeof cfg.rois === "string") {
    const role = cfg.rois;
    let attrs: Record<string, unknown> = {};
    try {
      attrs = (await Volume.open(cfg.dataset, cfg.labels, { allowIncomplete: true })).attrs;
    } catch (e) {
      if (!isOrganelleError(e)) throw e;
    }
    rois = readRois(attrs, where)
      .filter((r) => r.role === role)
      .map((r) => ({ name: r.name, roi: r.roi }));
    if (rois.length === 0) {
      throw invalidArgument(
        `${where} has no ${role} ROIs; add one with 'organelle gt add-roi ${cfg.dataset} ${path.basename(cfg.labels)} --role ${role} --roi z,y,x:dz,dy,dx', or list rois in the configuration (or rois: all)`,
      );
    }
  } else rois = cfg.rois.map((roi, i) => ({ name: `roi-${i + 1}`, roi }));
  return rois.map((r) => {
    const snapped = r.roi.snapToGrid(vs, "shrink", origin).intersect(labels.roi);
    if (snapped.empty) {
      throw invalidArgument(
        `${where}: ROI '${r.name}' ${r.roi} lies outside the labels (${labels.roi}) or is thinner than a voxel`,
      );
    }
    return { name: r.name, roi: snapped };
  });
}

/** The voxel box of `reader` covering the world box `roi` (on the source grid). */
export function boxIn(reader: VolumeReader, roi: Roi): VoxelBox {
  return roi.toVoxels(reader.meta.voxelSize, reader.meta.offset);
}

/** The world box of `shape` voxels whose first voxel is `begin` voxels from the grid origin. */
export function gridBox(
  src: { origin: Coordinate; voxelSize: Coordinate },
  begin: Coordinate,
  shape: Coordinate,
): Roi {
  return Roi.fromVoxels({ begin, shape }, src.voxelSize, src.origin);
}

/** The voxel box on the source grid (begin relative to its origin) of a world ROI on it. */
export function gridVoxels(src: { origin: Coordinate; voxelSize: Coordinate }, roi: Roi): VoxelBox {
  return roi.toVoxels(src.voxelSize, src.origin);
}

/**
 * Full-scale value of an intensity dtype: raw is read as value / fullScale in [0, 1], in training and in
 * prediction alike. `use` names what refuses other types ("learning", "prediction").
 */
export function fullScale(reader: VolumeReader, use = "learning"): number {
  switch (reader.meta.dtype) {
    case "uint8":
      return 255;
    case "uint16":
      return 65535;
    case "float32":
    case "float64":
      return 1;
    default:
      throw invalidData(
        `${reader.describe()}: raw of type ${reader.meta.dtype} is not supported for ${use} (uint8, uint16 or float in [0, 1])`,
      );
  }
}

/** Padding beyond the data (SPEC §4): raw 0.5 (in [0, 1]), labels 0, mask 1; exclusion zones 0. */
export const RAW_PADDING = 0.5;
const BINARY_PADDING = { labels: 0, mask: 1, exclusion: 0 } as const;

/** Reads raw over a world box as float32 in [0, 1]; voxels beyond the array are 0.5. */
export async function readRawBlock(src: OpenedSource, roi: Roi, signal?: AbortSignal): Promise<Float32Array> {
  const box = boxIn(src.raw, roi);
  const data = src.cache
    ? await readCached(src.cache, src.raw, box, { fill: 0, binary: false, ...(signal ? { signal } : {}) })
    : await src.raw.readBox(box, { signal });
  const out = new Float32Array(data.length);
  const inv = 1 / fullScale(src.raw);
  for (let i = 0; i < out.length; i++) out[i] = Number(data[i]) * inv;
  fillOutside(out, box, src.raw.meta.shape, RAW_PADDING);
  return out;
}

/**
 * Reads the labels, mask or exclusion zone as 0/1 (non-zero = 1) over a world box, padded per SPEC §4;
 * null for a mask or exclusion zone the source does not have.
 */
export async function readBinaryBlock(
  src: OpenedSource,
  which: "labels" | "mask" | "exclusion",
  roi: Roi,
  signal?: AbortSignal,
): Promise<Uint8Array | null> {
  const reader = src[which];
  if (!reader) return null;
  const box = boxIn(reader, roi);
  const fill = BINARY_PADDING[which];
  if (src.cache) {
    return (await readCached(src.cache, reader, box, {
      fill,
      binary: true,
      ...(signal ? { signal } : {}),
    })) as Uint8Array;
  }
  const data = await reader.readBox(box, { signal, fill });
  const out = new Uint8Array(data.length);
  if (data instanceof BigUint64Array) {
    for (let i = 0; i < out.length; i++) out[i] = data[i] !== 0n ? 1 : 0;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = data[i] !== 0 ? 1 : 0;
  }
  return out;
}

/** The labels over a world box (0/1). */
export async function readLabelBlock(src: OpenedSource, roi: Roi, signal?: AbortSignal): Promise<Uint8Array> {
  return (await readBinaryBlock(src, "labels", roi, signal))!;
}

/** Sets the voxels of a block (C-order over `box.shape`) that lie outside [0, arrayShape) to `value`. */
export function fillOutside(
  out: Float32Array | Uint8Array,
  box: VoxelBox,
  arrayShape: Coordinate,
  value: number,
): void {
  const [bz, by, bx] = box.begin;
  const [sz, sy, sx] = box.shape;
  const [az, ay, ax] = arrayShape;
  const inside = (b: number, s: number, a: number) => b >= 0 && b + s <= a;
  if (inside(bz, sz, az) && inside(by, sy, ay) && inside(bx, sx, ax)) return;
  const x0 = Math.max(0, -bx);
  const x1 = Math.max(x0, Math.min(sx, ax - bx));
  for (let z = 0; z < sz; z++) {
    const zOut = bz + z < 0 || bz + z >= az;
    for (let y = 0; y < sy; y++) {
      const row = (z * sy + y) * sx;
      if (zOut || by + y < 0 || by + y >= ay) {
        out.fill(value, row, row + sx);
        continue;
      }
      if (x0 > 0) out.fill(value, row, row + x0);
      if (x1 < sx) out.fill(value, row + x1, row + sx);
    }
  }
}

/** Voxel count of a world box on a grid. */
export function voxelCount(roi: Roi, voxelSize: Coordinate): number {
  return (
    Math.round(roi.shape[0] / voxelSize[0]) *
    Math.round(roi.shape[1] / voxelSize[1]) *
    Math.round(roi.shape[2] / voxelSize[2])
  );
}
