import * as fs from "node:fs";
import * as path from "node:path";
import { Journal, jobJournalPath } from "../blockwise/journal.ts";
import type { TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord, format, sub } from "../core/coordinate.ts";
import { invalidArgument, notFound } from "../core/errors.ts";
import { Roi, type VoxelBox } from "../core/roi.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import {
  arraySpec,
  cleanupJob,
  finishOutput,
  type JobOptions,
  prepareOutput,
  runKey,
  runPhase,
  withJob,
} from "../preprocess/jobs.ts";
import { detectNode } from "../store/hierarchy.ts";
import { importProvenance, RAW } from "../store/import.ts";
import { openReader } from "../store/reader.ts";
import { SliceStack } from "../store/slices.ts";
import { Volume } from "../store/volume.ts";
import { applyMapping, buildMapping, type IdMapping } from "./id-map.ts";
import type { ImportArrayParams } from "./import-task.ts";
import { labelArrayPath } from "./labels.ts";
import { getPreset } from "./presets.ts";

/*
 * `organelle gt import SRC DATASET ORGANELLE`: ground truth from TIFF/PNG slices (a directory or a
 * multi-page TIFF, 8/16-bit: the slice reader of `organelle import`) or from an array of another
 * OME-Zarr / Zarr / N5 container, written as labels/<organelle> on raw's voxel grid with the OME-Zarr
 * labels convention. Source ids map to a binary (uint8) or instance (uint32) label (id-map.ts).
 *
 * Geometry: the source's voxel size must equal raw's (no resampling): it comes from --voxel-size, else
 * the source's metadata, else (slices without metadata) raw's. Its offset: --offset, else the source's
 * metadata (Zarr/N5); slices without one are placed at raw's origin — or, when raw was imported with a
 * crop and the slices have the shape of the original stack, in that original frame. The labels are cut
 * to raw's ROI. Resumable; the output is complete only when done.
 */

export interface GtImportOptions extends JobOptions {
  /** Array inside a Zarr/N5 source container (e.g. "labels/mito" or "mito/s0"). */
  array?: string;
  scale?: number;
  ids?: readonly number[];
  map?: readonly [number, number][];
  instances?: boolean;
  voxelSize?: Coordinate;
  /** World position (nm) of the source's first voxel corner. */
  offset?: Coordinate;
  /** Regular expression for slice numbers in file names. */
  pattern?: string;
  overwrite?: boolean;
  blockVoxels?: number;
}

export interface GtImportResult {
  readonly array: string;
  readonly dtype: "uint8" | "uint32";
  readonly shape: Coordinate;
  readonly roi: Roi;
  readonly sourceKind: "slices" | "array";
  /** Where the placement came from. */
  readonly placement: string;
  readonly levels: number;
}

const sameSize = (a: Coordinate, b: Coordinate) =>
  a.every((v, d) => Math.abs(v - b[d]!) <= 1e-6 * Math.max(Math.abs(v), Math.abs(b[d]!)));

function onGrid(offset: Coordinate, raw: Volume): boolean {
  const q = sub(offset, raw.meta.offset).map((v, d) => v / raw.meta.voxelSize[d]!);
  return q.every((v) => Math.abs(v - Math.round(v)) < 1e-6);
}

export async function importLabels(
  src: string,
  datasetPath: string,
  organelle: string,
  opts: GtImportOptions = {},
): Promise<GtImportResult> {
  const preset = getPreset(organelle);
  const ds = path.resolve(datasetPath);
  if (!fs.existsSync(src)) throw notFound(`${src}: no such file or directory`);
  const raw = await Volume.open(ds, RAW).catch((e) => {
    throw notFound(`${datasetPath}: labels are placed on raw's voxel grid, but ${(e as Error).message}`);
  });
  const mapping = buildMapping({ ids: opts.ids, map: opts.map, instances: opts.instances });
  const isStore =
    opts.array !== undefined || (fs.statSync(src).isDirectory() && (await detectNode(src)) !== undefined);
  const vs = raw.meta.voxelSize;
  let sourceShape: Coordinate;
  let sourceVoxelSize: Coordinate;
  let sourceOffset: Coordinate;
  let placement: string;
  let stack: SliceStack | undefined;
  let where: string;
  if (isStore) {
    const reader = await openReader(src, { array: opts.array, scale: opts.scale });
    where = reader.describe();
    sourceShape = reader.meta.shape;
    sourceVoxelSize = opts.voxelSize ?? reader.meta.voxelSize;
    sourceOffset = opts.offset ?? reader.meta.offset;
    placement = opts.offset ? "--offset" : "the source's metadata";
  } else {
    if (opts.scale !== undefined) throw invalidArgument("--scale applies to Zarr/N5 sources, not to slices");
    stack = await SliceStack.open(src, { pattern: opts.pattern });
    where = src;
    sourceShape = stack.info.shape;
    sourceVoxelSize = opts.voxelSize ?? stack.info.voxelSize?.value ?? vs;
    const rec = importProvenance(raw.attrs);
    if (opts.offset) {
      sourceOffset = opts.offset;
      placement = "--offset";
    } else if (
      rec &&
      sourceShape.every((s, d) => s === rec.sourceShape[d]) &&
      !sourceShape.every((s, d) => s === raw.meta.shape[d])
    ) {
      sourceOffset = coord(
        ...([0, 1, 2].map((d) => raw.meta.offset[d]! - rec.cropOffset[d]! * vs[d]!) as [
          number,
          number,
          number,
        ]),
      );
      placement = "the frame of the stack raw was cropped from";
    } else {
      sourceOffset = raw.meta.offset;
      placement = "raw's origin";
    }
  }
  try {
    if (!sameSize(sourceVoxelSize, vs)) {
      throw invalidArgument(
        `${where}: voxel size ${format(sourceVoxelSize)} nm differs from raw's ${format(vs)} nm; resample the labels first, or give --voxel-size if the source's metadata is wrong`,
      );
    }
    if (!onGrid(sourceOffset, raw)) {
      throw invalidArgument(
        `${where}: offset ${format(sourceOffset)} nm is not on raw's voxel grid (origin ${format(raw.meta.offset)} nm, voxel size ${format(vs)} nm); give --offset`,
      );
    }
    const sourceRoi = Roi.fromVoxels({ begin: coord(0, 0, 0), shape: sourceShape }, vs, sourceOffset);
    const roi = sourceRoi.intersect(raw.roi);
    if (roi.empty) {
      throw invalidArgument(
        `${where}: the labels (${sourceRoi}) lie outside raw (${raw.roi}); check --offset`,
      );
    }
    const box = raw.boxOf(roi);
    const arrayPath = labelArrayPath(preset);
    const edge = opts.blockVoxels ?? 256;
    const key = runKey({
      v: 1,
      verb: "gt import",
      src: path.resolve(src),
      array: opts.array,
      scale: opts.scale ?? 0,
      fingerprint: stack?.info.fingerprint,
      mapping: { keys: [...mapping.keys], values: [...mapping.values], otherwise: mapping.otherwise },
      sourceOffset,
      edge,
    });
    const { runId } = await prepareOutput(
      ds,
      arrayPath,
      {
        shape: box.shape,
        dtype: mapping.dtype,
        voxelSize: vs,
        offset: roi.offset,
        chunks: raw.meta.chunks,
        compressor: "zstd",
        format: raw.meta.format,
        kind: "label",
        attrs: {
          gt: [
            {
              op: "import",
              source: path.resolve(src),
              ...(opts.array ? { array: opts.array } : {}),
              mapping: opts.map ? "map" : opts.ids ? "ids" : opts.instances ? "instances" : "binary",
              ...(opts.ids ? { ids: [...opts.ids] } : {}),
              ...(opts.map ? { map: opts.map.map((p) => [...p]) } : {}),
            },
          ],
        },
      },
      key,
      { overwrite: opts.overwrite },
    );
    return await withJob(ds, key, runId, opts, async (job) => {
      const output: ArrayRef = { datasetPath: ds, arrayPath };
      const out = await Volume.open(ds, arrayPath, { allowIncomplete: true });
      if (stack) {
        await importSlices(
          stack,
          out,
          sourceOffset,
          mapping,
          jobJournalPath(ds, `gt-import-${key}-${runId}`),
        );
      } else {
        const spec = arraySpec(`gt import ${preset.name}`, out, edge);
        const call: TaskCall<ImportArrayParams> = {
          fn: "gt.importArray",
          params: {
            source: path.resolve(src),
            array: opts.array,
            scale: opts.scale ?? 0,
            sourceOffset,
            voxelSize: vs,
            output,
            mapping,
          },
        };
        await runPhase(job, spec, call);
        await cleanupJob(job, [{ spec, call }]);
      }
      const levels = await finishOutput(job, ds, arrayPath, raw.levels.length);
      return {
        array: arrayPath,
        dtype: mapping.dtype,
        shape: box.shape,
        roi,
        sourceKind: stack ? ("slices" as const) : ("array" as const),
        placement,
        levels,
      };
    });
  } finally {
    stack?.close();
  }
}

/**
 * Slices -> labels, one slab of the output's chunk depth at a time (whole chunks per write), on this
 * thread; finished slabs are journaled, so an interrupted import resumes.
 */
async function importSlices(
  stack: SliceStack,
  out: Volume,
  sourceOffset: Coordinate,
  mapping: IdMapping,
  journalPath: string,
): Promise<void> {
  const vs = out.meta.voxelSize;
  const first = out.meta.offset.map((o, d) => Math.round((o - sourceOffset[d]!) / vs[d]!));
  const [nz, ny, nx] = out.meta.shape;
  const depth = out.meta.chunks[0];
  const slabs = Math.ceil(nz / depth);
  const journal = await Journal.open(journalPath, {
    key: path.basename(journalPath),
    task: "gt import",
    fn: "gt.importSlices",
    blocks: slabs,
  });
  try {
    const plane = ny * nx;
    const buf = stack.info.dtype === "uint8" ? new Uint8Array(depth * plane) : new Uint16Array(depth * plane);
    const window = { y: first[1]!, x: first[2]!, height: ny, width: nx };
    for (let s = 0; s < slabs; s++) {
      if (journal.done.has(s)) continue;
      const z0 = s * depth;
      const d = Math.min(depth, nz - z0);
      for (let z = 0; z < d; z++) {
        await stack.readSlice(first[0]! + z0 + z, buf.subarray(z * plane, (z + 1) * plane), window);
      }
      const box: VoxelBox = { begin: coord(z0, 0, 0), shape: coord(d, ny, nx) };
      await out.writeBox(box, applyMapping(buf.subarray(0, d * plane), mapping, stack.info.path));
      await journal.append(s);
    }
    await journal.markFinished();
  } finally {
    await journal.close();
  }
  await fs.promises.rm(journalPath, { force: true });
}
