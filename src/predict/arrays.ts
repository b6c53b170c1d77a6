import * as fs from "node:fs";
import * as path from "node:path";
import { type Coordinate, format } from "../core/coordinate.ts";
import { invalidArgument, isOrganelleError, notFound } from "../core/errors.ts";
import type { Roi } from "../core/roi.ts";
import { openReader, type VolumeReader } from "../store/reader.ts";
import { Volume } from "../store/volume.ts";

/*
 * Arrays of a dataset at a given voxel size: the pyramid level that has it. Predictions live on the
 * grid of the raw level the model was trained at; masks, labels and exclusion zones are read at the
 * same voxel size.
 */

export function sameVoxelSize(a: Coordinate, b: Coordinate): boolean {
  return [0, 1, 2].every((d) => Math.abs(a[d]! - b[d]!) <= 1e-6 * Math.max(a[d]!, b[d]!));
}

/** The level of `array` whose voxel size is `vs`, or undefined (with the levels there are). */
export async function levelAt(
  dataset: string,
  array: string,
  vs: Coordinate,
): Promise<{ reader: VolumeReader | undefined; levels: readonly Coordinate[] }> {
  const r0 = await openReader(dataset, { array });
  const levels = r0.levels.map((l) => l.voxelSize);
  const idx = levels.findIndex((l) => sameVoxelSize(l, vs));
  if (idx < 0) return { reader: undefined, levels };
  return { reader: idx === 0 ? r0 : await openReader(dataset, { array, scale: idx }), levels };
}

export function listVoxelSizes(levels: readonly Coordinate[]): string {
  return levels.map((v, i) => `${format(v)} (s${i})`).join(", ");
}

/**
 * An array read alongside a prediction, at its voxel size and on its voxel grid; `what` names it in
 * errors (e.g. "the cell mask").
 */
export async function openOnGrid(
  dataset: string,
  array: string,
  grid: { voxelSize: Coordinate; offset: Coordinate },
  what: string,
): Promise<VolumeReader> {
  const { reader, levels } = await levelAt(dataset, array, grid.voxelSize);
  if (!reader) {
    throw invalidArgument(
      `${path.join(dataset, array)} (${what}) has no level at voxel size ${format(grid.voxelSize)} nm (it has ${listVoxelSizes(levels)}); build one with 'organelle pyramid ${dataset} ${array}'`,
    );
  }
  const shift = [0, 1, 2].map((d) => (reader.meta.offset[d]! - grid.offset[d]!) / grid.voxelSize[d]!);
  if (shift.some((s) => Math.abs(s - Math.round(s)) > 1e-6)) {
    throw invalidArgument(
      `${reader.describe()} (${what}) is not on the voxel grid of the prediction (offsets differ by a fraction of a voxel)`,
    );
  }
  return reader;
}

/** Whether an array exists in a dataset (a directory with metadata). */
export function arrayExists(dataset: string, array: string): boolean {
  const dir = path.join(dataset, array);
  return ["zarr.json", ".zattrs", ".zarray", "attributes.json"].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Opens a multiscale array of the dataset, incomplete ones included; undefined when it is missing. */
export async function openIfExists(dataset: string, array: string): Promise<Volume | undefined> {
  if (!arrayExists(dataset, array)) return undefined;
  try {
    return await Volume.open(dataset, array, { allowIncomplete: true });
  } catch (e) {
    if (isOrganelleError(e, "NotFound")) return undefined;
    throw e;
  }
}

/** A `--roi` clipped to `frame` on its voxel grid; outside it, one line saying where the data is. */
export function roiInside(
  roi: Roi,
  frame: Roi,
  grid: { voxelSize: Coordinate; offset: Coordinate },
  where: string,
): Roi {
  const snapped = roi.snapToGrid(grid.voxelSize, "grow", grid.offset).intersect(frame);
  if (snapped.empty) {
    throw invalidArgument(`--roi ${roi} lies outside ${where}, which covers ${frame}`);
  }
  return snapped;
}

/** Mask array of the dataset, or the error that says how to make one. */
export async function openMask(
  dataset: string,
  array: string,
  grid: { voxelSize: Coordinate; offset: Coordinate },
): Promise<VolumeReader> {
  if (!arrayExists(dataset, array)) {
    throw notFound(
      `${path.join(dataset, array)}: the dataset has no cell mask; make one with 'organelle mask ${dataset}', or pass --no-mask to predict every voxel`,
    );
  }
  return openOnGrid(dataset, array, grid, "the cell mask");
}
