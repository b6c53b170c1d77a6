import * as fs from "node:fs";
import * as path from "node:path";
import type { TaskCall } from "../blockwise/types.ts";
import { type Coordinate, min } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, notFound } from "../core/errors.ts";
import { Roi, type VoxelBox } from "../core/roi.ts";
import { cropRois, readRois, roisToJson } from "../gt/rois.ts";
import { walkArrays } from "../store/hierarchy.ts";
import { type ImportProvenance, importProvenance, RAW } from "../store/import.ts";
import { readMultiscaleGroup, writeMultiscaleGroup } from "../store/multiscale.ts";
import { readJson, Volume, writeJsonAtomic } from "../store/volume.ts";
import type { CropCopyParams } from "./crop-task.ts";
import { arraySpec, finishOutput, type JobOptions, newRunId, runKey, runPhase, withJob } from "./jobs.ts";

/*
 * `organelle crop DATASET OUT --roi ...`: a new dataset holding every array of DATASET (or the listed
 * ones) restricted to a ROI, each at its own voxel grid (the ROI grown to whole voxels of that array),
 * its pyramid rebuilt with as many levels as the source had.
 *
 * The crop is recorded the way `organelle import` records one (`organelle.import` of raw: the frame of
 * the original stack `sourceShape`, and where the array lies in it, `cropOffset`/`cropShape` in voxels),
 * so `organelle export --uncrop` puts cropped outputs back into the original frame; crops of crops
 * compose. A dataset that was not imported by organelle gets a record whose frame is the source
 * dataset's raw. Training/validation ROIs of label arrays are clipped to the crop (dropped if outside).
 *
 * Written under OUT.partial (journals inside it), renamed to OUT when every array is complete; the same
 * command resumes an interrupted crop.
 */

export interface CropOptions extends JobOptions {
  /** World ROI (nm) ... */
  roi?: Roi;
  /** ... or a box of voxels of raw (of the first array when there is no raw). */
  voxels?: VoxelBox;
  /** Arrays to copy (default: all). */
  arrays?: readonly string[];
  overwrite?: boolean;
  /** Write-block edge in voxels (whole chunks; default 256). */
  blockVoxels?: number;
}

export interface CroppedArray {
  readonly path: string;
  readonly roi: Roi;
  readonly shape: Coordinate;
  readonly levels: number;
}

export interface CropResult {
  readonly out: string;
  readonly roi: Roi;
  readonly arrays: readonly CroppedArray[];
  /** Arrays the ROI does not touch (not copied). */
  readonly skipped: readonly string[];
  readonly seconds: number;
}

/** Multiscale OME-Zarr arrays of a dataset, raw first. */
async function datasetArrays(ds: string): Promise<string[]> {
  const entries = await walkArrays(ds);
  const paths = entries
    .filter((e) => e.node.type === "multiscale" && e.node.format !== "n5" && e.path !== "")
    .map((e) => e.path);
  return paths.sort((a, b) => (a === RAW ? -1 : b === RAW ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

export async function cropDataset(datasetPath: string, out: string, opts: CropOptions): Promise<CropResult> {
  const started = performance.now();
  const ds = path.resolve(datasetPath);
  const target = path.resolve(out);
  if (!fs.existsSync(ds)) throw notFound(`${datasetPath}: no such dataset`);
  if (target === ds || target.startsWith(`${ds}${path.sep}`)) {
    throw invalidArgument(`${out}: the cropped dataset must lie outside ${datasetPath}`);
  }
  if ((opts.roi === undefined) === (opts.voxels === undefined)) {
    throw invalidArgument("give the crop with either --roi z,y,x:dz,dy,dx (nm) or --voxels z,y,x:dz,dy,dx");
  }
  const all = await datasetArrays(ds);
  if (all.length === 0) throw invalidArgument(`${datasetPath}: no OME-Zarr arrays to crop`);
  let arrays = all;
  if (opts.arrays?.length) {
    for (const a of opts.arrays) {
      if (!all.includes(a))
        throw notFound(`--arrays ${a}: ${datasetPath} has no such array (it has ${all.join(", ")})`);
    }
    arrays = all.filter((a) => opts.arrays!.includes(a));
  }
  const refPath = all.includes(RAW) ? RAW : all[0]!;
  const ref = await Volume.open(ds, refPath);
  const asked = opts.roi ?? Roi.fromVoxels(opts.voxels!, ref.meta.voxelSize, ref.meta.offset);
  const roi = asked.snapToGrid(ref.meta.voxelSize, "grow", ref.meta.offset);
  if (!ref.roi.contains(roi)) {
    throw invalidArgument(
      `${opts.roi ? "--roi" : "--voxels"} ${asked}: reaches outside ${refPath} of ${datasetPath}, which covers ${ref.roi}`,
    );
  }
  if (fs.existsSync(target)) {
    if (!opts.overwrite)
      throw invalidArgument(`${out} already exists; choose another name or pass --overwrite`);
  }
  const partial = `${target}.partial`;
  const edge = opts.blockVoxels ?? 256;
  const key = runKey({ v: 1, verb: "crop", ds, roi: roi.toJSON(), arrays, edge });
  const marker = path.join(partial, ".organelle", "crop.json");
  let runId: string | undefined;
  if (fs.existsSync(partial)) {
    const prior = fs.existsSync(marker) ? ((await readJson(marker)) as { key?: string; runId?: string }) : {};
    if (prior.key === key && typeof prior.runId === "string") {
      runId = prior.runId;
    } else if (!opts.overwrite) {
      throw invalidArgument(
        `${partial} holds an interrupted crop with other options; run that crop again, remove it, or pass --overwrite`,
      );
    } else {
      await fs.promises.rm(partial, { recursive: true, force: true });
    }
  }
  if (runId === undefined) {
    runId = newRunId();
    await writeJsonAtomic(marker, { key, runId, source: ds, roi: roi.toJSON() });
  }

  const copied: CroppedArray[] = [];
  const skipped: string[] = [];
  await withJob(partial, key, runId, opts, async (job) => {
    for (const a of arrays) {
      const src = await Volume.open(ds, a);
      const vs = src.meta.voxelSize;
      const r = roi.snapToGrid(vs, "grow", src.meta.offset).intersect(src.roi);
      if (r.empty) {
        skipped.push(a);
        continue;
      }
      const box = src.boxOf(r);
      const existing = await Volume.open(partial, a, { allowIncomplete: true }).catch(() => undefined);
      if (existing && existing.attrs.complete !== false) {
        copied.push({ path: a, roi: r, shape: existing.meta.shape, levels: existing.levels.length });
        continue;
      }
      const dst =
        existing && existing.attrs.run === key
          ? existing
          : await createCropped(partial, a, src, r, box, ds, key, a === RAW);
      const spec = arraySpec(`crop ${a}`, dst, edge);
      const call: TaskCall<CropCopyParams> = {
        fn: "crop.copy",
        params: { source: { datasetPath: ds, arrayPath: a }, target: { datasetPath: partial, arrayPath: a } },
      };
      await runPhase(job, spec, call);
      const levels = await finishOutput(job, partial, a, src.levels.length);
      copied.push({ path: a, roi: r, shape: dst.meta.shape, levels });
    }
  });
  await fs.promises.rm(path.join(partial, ".organelle"), { recursive: true, force: true });
  if (fs.existsSync(target)) await fs.promises.rm(target, { recursive: true, force: true });
  try {
    await fs.promises.rename(partial, target);
  } catch (e) {
    throw fromFsError(e, target, "moving the finished crop into place");
  }
  return { out: target, roi, arrays: copied, skipped, seconds: (performance.now() - started) / 1000 };
}

/** The cropped array, created incomplete, with the source's attributes adjusted to the crop. */
async function createCropped(
  partial: string,
  arrayPath: string,
  src: Volume,
  r: Roi,
  box: VoxelBox,
  sourceDataset: string,
  key: string,
  isRaw: boolean,
): Promise<Volume> {
  const { complete: _c, pyramid: _p, run: _r, kind: _k, ...kept } = src.attrs;
  const attrs: Record<string, unknown> = { ...kept, run: key };
  const prior = importProvenance(src.attrs);
  if (prior) {
    attrs.import = {
      ...prior,
      cropOffset: [
        prior.cropOffset[0] + box.begin[0],
        prior.cropOffset[1] + box.begin[1],
        prior.cropOffset[2] + box.begin[2],
      ],
      cropShape: [...box.shape],
    } satisfies ImportProvenance;
  } else if (isRaw) {
    // The frame of a dataset organelle did not import is the source's raw array itself.
    attrs.import = {
      source: path.join(sourceDataset, RAW),
      sourceKind: "dataset",
      sourceShape: [...src.meta.shape],
      cropOffset: [...box.begin],
      cropShape: [...box.shape],
      invert: false,
      dtype: src.meta.dtype,
    };
  }
  if (src.attrs.rois !== undefined) attrs.rois = roisToJson(cropRois(readRois(src.attrs, src.describe()), r));
  const vol = await Volume.create(partial, arrayPath, {
    shape: box.shape,
    dtype: src.meta.dtype,
    voxelSize: src.meta.voxelSize,
    offset: r.offset,
    chunks: min(src.meta.chunks, box.shape),
    compressor: src.meta.compressor,
    format: src.meta.format,
    kind: src.meta.kind,
    attrs,
    overwrite: true,
  });
  // Attributes other tools keep on the group (outside `organelle`) travel with the array.
  const g = await readMultiscaleGroup(src.datasetPath, src.arrayPath);
  if (g.extra && Object.keys(g.extra).length > 0) {
    const mine = await readMultiscaleGroup(partial, arrayPath);
    await writeMultiscaleGroup(partial, arrayPath, { ...mine, extra: { ...g.extra, ...(mine.extra ?? {}) } });
  }
  return vol;
}
