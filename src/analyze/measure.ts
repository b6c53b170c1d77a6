import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgressSink, WorkerPool } from "../blockwise/index.ts";
import type { TaskCall } from "../blockwise/types.ts";
import { fromFsError, invalidArgument, isOrganelleError } from "../core/errors.ts";
import { arraySpec, cleanupJob, runKey, runPhase, withJob } from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import type { MeasureBlockValue, MeasureParams } from "./measure-task.ts";
import { mergeRegionStats, STAT, STAT_COUNT } from "./region-stats.ts";

/*
 * `organelle measure`: per-instance measurements of a label array (block-wise, resumable, equal to
 * the whole-volume computation; see region-stats.ts) written as COSEM's CSV, and per-class numbers.
 * Positions are in nm: voxel centres at offset + (index + 0.5) * voxel size; the bounding box spans
 * whole voxels (MIN = corner of the first voxel, MAX = far corner of the last).
 */

export const COSEM_COLUMNS = [
  "Object ID",
  "Volume (nm^3)",
  "Surface Area (nm^2)",
  "COM X (nm)",
  "COM Y (nm)",
  "COM Z (nm)",
  "MIN X (nm)",
  "MIN Y (nm)",
  "MIN Z (nm)",
  "MAX X (nm)",
  "MAX Y (nm)",
  "MAX Z (nm)",
] as const;
/** Columns after COSEM's: the voxel-face area COSEM reported and the binary marching-cubes area. */
export const EXTRA_COLUMNS = ["Voxel Face Area (nm^2)", "Binary Mesh Area (nm^2)", "Voxels"] as const;

export interface InstanceRow {
  readonly id: number;
  readonly voxels: number;
  readonly volume: number;
  /** Smoothed marching-cubes area (the reported surface area). */
  readonly surfaceArea: number;
  readonly faceArea: number;
  readonly binaryMeshArea: number;
  /** z, y, x nm */
  readonly com: [number, number, number];
  readonly min: [number, number, number];
  readonly max: [number, number, number];
}

export interface ClassSummary {
  readonly count: number;
  readonly totalVolume: number;
  /** Of the cell mask's volume; undefined without a cell mask. */
  readonly cellFraction: number | undefined;
  readonly cellVolume: number | undefined;
  /** Volume quantiles (nm^3) at 0, 5, 25, 50, 75, 95, 100 % (linear, as numpy). */
  readonly volumeQuantiles: readonly number[];
}

export const QUANTILES = [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1] as const;

export interface MeasureOptions {
  /** Cell mask array for the volume fraction (default masks/cell when it exists; null: none). */
  cellMask?: string | null;
  /** CSV path relative to the dataset (default tables/<last part of the array path>.csv). */
  table?: string;
  blockVoxels?: number;
  workers?: number;
  /** Reuse these worker threads. */
  pool?: WorkerPool;
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

export interface MeasureResult {
  readonly rows: InstanceRow[];
  readonly summary: ClassSummary;
  readonly csvPath: string;
  readonly cellMask: string | undefined;
  readonly seconds: number;
}

export async function runMeasure(
  datasetPath: string,
  arrayPath: string,
  opts: MeasureOptions = {},
): Promise<MeasureResult> {
  const t0 = performance.now();
  const vol = await Volume.open(datasetPath, arrayPath);
  if (!["uint8", "uint16", "uint32", "int32"].includes(vol.meta.dtype)) {
    throw invalidArgument(
      `${vol.describe()} is ${vol.meta.dtype}; measure reads instance ids (uint8, uint16, uint32 or int32)`,
    );
  }
  const cellMask = await resolveCellMask(datasetPath, vol, opts.cellMask);
  const input = { datasetPath: path.resolve(datasetPath), arrayPath };
  const params: MeasureParams = cellMask
    ? { input, cellMask: { datasetPath: input.datasetPath, arrayPath: cellMask } }
    : { input };
  const call: TaskCall<MeasureParams> = { fn: "analyze.measure", params };
  // v2: blocks own voxels and cells shifted down (measureBlockBelow); v1 journals must not mix in.
  const key = runKey({ v: 2, verb: "measure", arrayPath, cellMask, block: opts.blockVoxels ?? 256 });
  const spec = arraySpec(`measure ${arrayPath}`, vol, opts.blockVoxels ?? 256);
  const values = await withJob(datasetPath, key, key, opts, async (job) => {
    const summary = await runPhase(job, spec, call);
    await cleanupJob(job, [{ spec, call }]);
    return [...summary.values.values()] as MeasureBlockValue[];
  });
  const parts = values;
  const merged = mergeRegionStats(parts);
  const rows = toRows(merged, vol);
  const voxelVolume = vol.meta.voxelSize[0] * vol.meta.voxelSize[1] * vol.meta.voxelSize[2];
  const cellVolume = cellMask ? parts.reduce((s, p) => s + p.cellVoxels, 0) * voxelVolume : undefined;
  const summary = summarize(rows, cellVolume);
  const organelle = arrayPath.split("/").filter(Boolean).pop() ?? "objects";
  const csvPath = path.join(datasetPath, opts.table ?? path.join("tables", `${organelle}.csv`));
  await writeFileAtomic(csvPath, measurementsCsv(rows));
  return { rows, summary, csvPath, cellMask, seconds: (performance.now() - t0) / 1000 };
}

async function resolveCellMask(datasetPath: string, vol: Volume, option: string | null | undefined) {
  if (option === null) return undefined;
  const name = option ?? "masks/cell";
  let mask: Volume;
  try {
    mask = await Volume.open(datasetPath, name);
  } catch (e) {
    if (option === undefined && isOrganelleError(e, "NotFound")) return undefined;
    throw e;
  }
  const same = (a: readonly number[], b: readonly number[]) => a.every((v, d) => v === b[d]);
  if (!same(mask.meta.voxelSize, vol.meta.voxelSize) || !same(mask.meta.offset, vol.meta.offset)) {
    throw invalidArgument(
      `${mask.describe()} has voxel size ${mask.meta.voxelSize.join(",")} nm and offset ${mask.meta.offset.join(",")} nm but ${vol.describe()} has ${vol.meta.voxelSize.join(",")} and ${vol.meta.offset.join(",")}; pass a cell mask on the same grid with --cell-mask, or --no-cell-mask`,
    );
  }
  return name;
}

export function toRows(merged: { ids: number[]; stats: number[] }, vol: Volume): InstanceRow[] {
  const vs = vol.meta.voxelSize;
  const off = vol.meta.offset;
  const voxelVolume = vs[0] * vs[1] * vs[2];
  return merged.ids.map((id, k) => {
    const s = (j: number) => merged.stats[k * STAT_COUNT + j]!;
    const n = s(STAT.count);
    const centre = (sum: number, d: number) => off[d]! + (sum / n + 0.5) * vs[d]!;
    return {
      id,
      voxels: n,
      volume: n * voxelVolume,
      surfaceArea: s(STAT.smoothArea),
      faceArea: s(STAT.faceArea),
      binaryMeshArea: s(STAT.binaryArea),
      com: [centre(s(STAT.sumZ), 0), centre(s(STAT.sumY), 1), centre(s(STAT.sumX), 2)],
      min: [0, 1, 2].map((d) => off[d]! + s(STAT.minZ + d) * vs[d]!) as [number, number, number],
      max: [0, 1, 2].map((d) => off[d]! + (s(STAT.maxZ + d) + 1) * vs[d]!) as [number, number, number],
    };
  });
}

/** numpy.quantile (linear) of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

export function summarize(rows: readonly InstanceRow[], cellVolume: number | undefined): ClassSummary {
  const volumes = rows.map((r) => r.volume).sort((a, b) => a - b);
  const totalVolume = volumes.reduce((a, b) => a + b, 0);
  return {
    count: rows.length,
    totalVolume,
    cellVolume,
    cellFraction: cellVolume ? totalVolume / cellVolume : undefined,
    volumeQuantiles: QUANTILES.map((q) => quantile(volumes, q)),
  };
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

export function measurementsCsv(rows: readonly InstanceRow[]): string {
  const lines = [[...COSEM_COLUMNS, ...EXTRA_COLUMNS].join(",")];
  for (const r of rows) {
    lines.push(
      [
        r.id,
        r.volume,
        r.surfaceArea,
        r.com[2],
        r.com[1],
        r.com[0],
        r.min[2],
        r.min[1],
        r.min[0],
        r.max[2],
        r.max[1],
        r.max[0],
        r.faceArea,
        r.binaryMeshArea,
        r.voxels,
      ]
        .map(num)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Writes a file through a temporary name and a rename, so a partial file never appears. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(tmp, text);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {});
    throw fromFsError(e, file, "writing a table");
  }
}
