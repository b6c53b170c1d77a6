import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgressSink, WorkerPool } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import {
  arraySpec,
  cleanupJob,
  finishOutput,
  prepareOutput,
  runKey,
  runPhase,
  wholeNumber,
  withJob,
} from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import { runMeasure, writeFileAtomic } from "./measure.ts";
import { readObjectBoxes } from "./mesh.ts";
import { DEFAULT_PLANARITY_SCALES, effectiveScales } from "./planarity.ts";
import {
  ER_FIELDS,
  MITO_FIELDS,
  type SkeletonKind,
  type SkeletonObjectsParams,
  type SkeletonWriteParams,
} from "./skeleton-task.ts";

/*
 * `organelle skeleton DATASET --organelle mito|er`: per-instance skeletons (mito: curve skeleton,
 * graph, pruning, length, radius) or medial surfaces with planarity (er), see skeleton-task.ts.
 *
 * Block-wise strategy: instances span blocks, and thinning is not local (a voxel's fate depends on
 * the whole object), so each instance is processed whole from a crop of its bounding box. The boxes
 * come from `organelle measure`'s table, computed block-wise (run first when the table is missing);
 * instances run in parallel on the worker threads. The per-instance voxels are kept as sparse files
 * and a second, chunk-aligned block-wise phase writes the output array from them, so no two workers
 * ever write the same chunk. Memory is bounded by the largest instance's box, not by the cell.
 */

export interface SkeletonOptions {
  organelle: SkeletonKind;
  /** Instance array (default segmentations/<organelle>). */
  input?: string;
  /** mito: prune branches shorter than this (nm, default 80). */
  prune?: number;
  /** er: Gaussian sigmas in nm (default 10,15,20,30,40). */
  scales?: readonly number[];
  /** Measure table with the bounding boxes (default tables/<input name>.csv). */
  table?: string;
  remeasure?: boolean;
  /** CSV relative to the dataset (default tables/mito_skeleton.csv or tables/er_planarity.csv). */
  out?: string;
  /** Output array (default analysis/mito_skeleton or analysis/er_planarity). */
  array?: string;
  overwrite?: boolean;
  objectsPerBlock?: number;
  blockVoxels?: number;
  workers?: number;
  pool?: WorkerPool;
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

export interface MitoSkeletonRow {
  readonly id: number;
  /** Longest shortest path after pruning, nm. */
  readonly length: number;
  readonly totalLength: number;
  readonly branches: number;
  readonly ends: number;
  readonly junctions: number;
  readonly pruned: number;
  readonly radiusMean: number;
  readonly radiusSd: number;
  readonly skeletonVoxels: number;
}

export interface ErPlanarityRow {
  readonly id: number;
  readonly medialVoxels: number;
  readonly planarityMean: number;
  readonly planarityMedian: number;
  /** Fraction of the medial-surface voxels with planarity >= 0.6. */
  readonly planarFraction: number;
}

interface Common {
  readonly input: string;
  readonly csvPath: string;
  readonly array: string;
  readonly measured: boolean;
  readonly seconds: number;
}

export type SkeletonResult =
  | (Common & { readonly organelle: "mito"; readonly rows: MitoSkeletonRow[] })
  | (Common & {
      readonly organelle: "er";
      readonly rows: ErPlanarityRow[];
      /** Class summary: planar medial-surface voxels / all medial-surface voxels. */
      readonly planarFraction: number;
      readonly medialVoxels: number;
      readonly scales: number[];
    });

export const MITO_COLUMNS = [
  "id",
  "length_nm",
  "total_length_nm",
  "branches",
  "ends",
  "junctions",
  "pruned_branches",
  "radius_mean_nm",
  "radius_sd_nm",
  "skeleton_voxels",
] as const;
export const ER_COLUMNS = [
  "id",
  "medial_voxels",
  "planarity_mean",
  "planarity_median",
  "planar_fraction",
] as const;

export async function runSkeleton(datasetPath: string, opts: SkeletonOptions): Promise<SkeletonResult> {
  const t0 = performance.now();
  const ds = path.resolve(datasetPath);
  const kind = opts.organelle;
  if (kind !== "mito" && kind !== "er") {
    throw invalidArgument(`--organelle ${kind}: expected mito (curve skeletons) or er (medial surfaces)`);
  }
  const prune = opts.prune ?? 80;
  if (!(prune >= 0 && Number.isFinite(prune))) throw invalidArgument(`--prune ${prune}: expected nm >= 0`);
  const input = opts.input ?? `segmentations/${kind}`;
  const vol = await Volume.open(ds, input);
  if (!["uint8", "uint16", "uint32", "int32"].includes(vol.meta.dtype)) {
    throw invalidArgument(
      `${vol.describe()} is ${vol.meta.dtype}; skeleton reads instance ids (uint8..uint32, int32)`,
    );
  }
  const scales = effectiveScales(opts.scales ?? DEFAULT_PLANARITY_SCALES, vol.meta.voxelSize);
  const per = wholeNumber(opts.objectsPerBlock ?? 4, "objects per block", 1);
  const edge = wholeNumber(opts.blockVoxels ?? 256, "--block", 1);
  const name = input.split("/").filter(Boolean).pop() ?? kind;
  const tableRel = opts.table ?? path.join("tables", `${name}.csv`);
  const tablePath = path.join(ds, tableRel);
  let measured = false;
  if (opts.remeasure || !fs.existsSync(tablePath)) {
    await runMeasure(ds, input, {
      table: tableRel,
      workers: opts.workers,
      progress: opts.progress,
      signal: opts.signal,
    });
    measured = true;
  }
  const { objects, ids, boxes } = await readObjectBoxes(tablePath, vol);
  const { offset, voxelSize: vs, shape } = vol.meta;
  const array = opts.array ?? (kind === "mito" ? `analysis/${name}_skeleton` : `analysis/${name}_planarity`);
  const csvRel =
    opts.out ?? path.join("tables", kind === "mito" ? `${name}_skeleton.csv` : `${name}_planarity.csv`);
  const key = runKey({
    v: 1,
    verb: "skeleton",
    kind,
    input,
    prune,
    scales,
    table: tableRel,
    array,
    n: objects.length,
  });
  const { runId } = await prepareOutput(
    ds,
    array,
    {
      shape,
      voxelSize: vs,
      offset,
      chunks: vol.meta.chunks,
      compressor: "zstd",
      level: 1,
      format: vol.meta.format,
      dtype: kind === "mito" ? "uint32" : "uint8",
      kind: kind === "mito" ? "label" : "intensity",
      attrs:
        kind === "mito"
          ? { skeleton: { input, prune } }
          : {
              planarity: {
                input,
                scales,
                encoding: "0 = not medial surface, else 1 + round(254 * planarity)",
              },
            },
    },
    key,
    { overwrite: opts.overwrite },
  );
  const dir = path.join(ds, ".organelle", "tmp", `${key}.skeleton`);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fromFsError(e, dir, "creating the skeleton work directory");
  }
  return withJob(ds, key, runId, opts, async (job) => {
    const phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] = [];
    const values: number[][] = [];
    if (objects.length > 0) {
      const spec: BlockwiseTaskSpec = {
        name: `skeleton ${input}`,
        totalWriteRoi: new Roi(coord(0, 0, 0), coord(1, 1, objects.length)),
        blockShape: coord(1, 1, per),
        context: coord(0, 0, 0),
      };
      const call: TaskCall<SkeletonObjectsParams> = {
        fn: "analyze.skeletonObjects",
        params: { input: { datasetPath: ds, arrayPath: input }, kind, ids, boxes, prune, scales, dir },
      };
      const r = await runPhase(job, spec, call);
      phases.push({ spec, call });
      for (const v of r.values.values()) values.push(v as number[]);
    }
    const writeSpec = arraySpec(`skeleton ${input}: write ${array}`, vol, edge);
    const writeCall: TaskCall<SkeletonWriteParams> = {
      fn: "analyze.skeletonWrite",
      params: { output: { datasetPath: ds, arrayPath: array }, ids, boxes, dir },
    };
    await runPhase(job, writeSpec, writeCall);
    phases.push({ spec: writeSpec, call: writeCall });
    await finishOutput(job, ds, array, 1);
    const csvPath = path.join(ds, csvRel);
    const common = {
      input,
      csvPath,
      array: path.join(ds, array),
      measured,
    };
    let result: SkeletonResult;
    if (kind === "mito") {
      const rows = unpack(values, MITO_FIELDS.length).map(
        (v): MitoSkeletonRow => ({
          id: v[0]!,
          length: v[1]!,
          totalLength: v[2]!,
          branches: v[3]!,
          ends: v[4]!,
          junctions: v[5]!,
          pruned: v[6]!,
          radiusMean: v[7]!,
          radiusSd: v[8]!,
          skeletonVoxels: v[9]!,
        }),
      );
      await writeFileAtomic(csvPath, mitoCsv(rows));
      result = { ...common, organelle: "mito", rows, seconds: 0 };
    } else {
      let medial = 0;
      let planar = 0;
      const rows = unpack(values, ER_FIELDS.length).map((v): ErPlanarityRow => {
        medial += v[1]!;
        planar += v[4]!;
        return {
          id: v[0]!,
          medialVoxels: v[1]!,
          planarityMean: v[2]!,
          planarityMedian: v[3]!,
          planarFraction: v[1]! > 0 ? v[4]! / v[1]! : 0,
        };
      });
      await writeFileAtomic(csvPath, erCsv(rows));
      result = {
        ...common,
        organelle: "er",
        rows,
        planarFraction: medial > 0 ? planar / medial : 0,
        medialVoxels: medial,
        scales,
        seconds: 0,
      };
    }
    await fs.promises.rm(dir, { recursive: true, force: true });
    await cleanupJob(job, phases);
    return { ...result, seconds: (performance.now() - t0) / 1000 };
  });
}

function unpack(blocks: readonly number[][], width: number): number[][] {
  const rows: number[][] = [];
  for (const a of blocks) for (let k = 0; k < a.length; k += width) rows.push(a.slice(k, k + width));
  return rows.sort((a, b) => a[0]! - b[0]!);
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

export function mitoCsv(rows: readonly MitoSkeletonRow[]): string {
  const lines = [MITO_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [
        r.id,
        r.length,
        r.totalLength,
        r.branches,
        r.ends,
        r.junctions,
        r.pruned,
        r.radiusMean,
        r.radiusSd,
        r.skeletonVoxels,
      ]
        .map(num)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function erCsv(rows: readonly ErPlanarityRow[]): string {
  const lines = [ER_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [r.id, r.medialVoxels, r.planarityMean, r.planarityMedian, r.planarFraction]
        .map((v, i) => (i < 2 ? num(v) : v.toFixed(4)))
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}
