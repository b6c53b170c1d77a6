import * as fs from "node:fs";
import * as path from "node:path";
import {
  jobJournalPath,
  jobKey,
  type Progress,
  type RunSummary,
  runInProcess,
  runInWorkers,
  type WorkerPool,
} from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord, equals, min } from "../core/coordinate.ts";
import { invalidArgument, OrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { TASK_TABLE } from "../tasks/table.ts";
import { type DownsampleMethod, downsampledShape } from "./downsample.ts";
import {
  type MultiscaleGroup,
  type MultiscaleLevel,
  readMultiscaleGroup,
  writeMultiscaleGroup,
} from "./multiscale.ts";
import type { DownsampleParams } from "./pyramid-task.ts";
import { type Compressor, createLevelArray, readJson, Volume } from "./volume.ts";

/*
 * Pyramid rule. Each level halves the previous one along every axis that
 *   - is still finer than twice the finest axis (voxel size < 2 x the smallest voxel size of the level),
 *     so anisotropic data (e.g. 8 x 4 x 4 nm, z coarse) first catches up along the fine axes and then
 *     halves isotropically: 8x4x4 -> 8x8x8 -> 16x16x16; 5.2x4x4 -> 10.4x8x8; 10x4x4 -> 10x8x8 -> 20x16x16;
 *   - and has more than one voxel (axes of one voxel are ignored when finding the finest).
 * Levels are added until the level fits in one chunk along every axis ("down to about one chunk"), or
 * `maxLevels` is reached. Sizes round up (ceil), see downsample.ts for the kernels (mean for intensity,
 * mode for label/mask arrays). Every level keeps the corner offset of s0 (see multiscale.ts).
 */

export interface PyramidLevelPlan {
  readonly path: string;
  readonly shape: Coordinate;
  readonly voxelSize: Coordinate;
  readonly chunks: Coordinate;
  /** Factor from the previous level (1,1,1 for level 0). */
  readonly factor: Coordinate;
}

/** Levels 0..N for an array of `shape` with `voxelSize` and `chunks` (level 0 included). */
export function planPyramid(
  shape: Coordinate,
  voxelSize: Coordinate,
  chunks: Coordinate,
  opts: { maxLevels?: number; prefix?: string } = {},
): PyramidLevelPlan[] {
  const prefix = opts.prefix ?? "s";
  const maxLevels = opts.maxLevels ?? 16;
  if (!(Number.isInteger(maxLevels) && maxLevels >= 1)) {
    throw invalidArgument(`levels ${maxLevels}: must be an integer >= 1 (the count includes s0)`);
  }
  const levels: PyramidLevelPlan[] = [
    { path: `${prefix}0`, shape, voxelSize, chunks: min(chunks, shape), factor: coord(1, 1, 1) },
  ];
  for (;;) {
    const cur = levels[levels.length - 1]!;
    if (levels.length >= maxLevels) break;
    if (cur.shape.every((s, d) => s <= chunks[d]!)) break;
    // Axes of one voxel cannot be halved and do not count as the finest (slabs, single images).
    const finest = Math.min(...cur.voxelSize.filter((_, d) => cur.shape[d]! > 1));
    const f = coord(
      ...([0, 1, 2].map((d) =>
        cur.voxelSize[d]! < 2 * finest * (1 - 1e-9) && cur.shape[d]! > 1 ? 2 : 1,
      ) as [number, number, number]),
    );
    if (f.every((v) => v === 1)) break;
    const next = coord(...downsampledShape(cur.shape, f));
    levels.push({
      path: `${prefix}${levels.length}`,
      shape: next,
      voxelSize: coord(cur.voxelSize[0] * f[0], cur.voxelSize[1] * f[1], cur.voxelSize[2] * f[2]),
      chunks: min(chunks, next),
      factor: f,
    });
  }
  return levels;
}

export interface BuildPyramidOptions {
  /** mean (default for intensity arrays) or mode (default for label and mask arrays). */
  method?: DownsampleMethod;
  /** Number of levels at most, s0 included (default: down to about one chunk). */
  maxLevels?: number;
  /** Replace scale levels the array already has. Without it an array with levels is an error. */
  overwrite?: boolean;
  /** Mark the array complete when done (default true); an importer that finishes it itself passes false. */
  complete?: boolean;
  /** Build on an array whose writing has not finished (its writer calls this before marking it complete). */
  allowIncomplete?: boolean;
  /** "workers" (default: worker threads, one per core) or "in-process". */
  runner?: "workers" | "in-process";
  /** Worker threads (runner "workers") or blocks in flight (runner "in-process"); default one per core. */
  workers?: number;
  /** Edge of a write block in voxels, rounded down to whole chunks (default 128). */
  blockVoxels?: number;
  pool?: WorkerPool;
  progress?: Progress | false;
  signal?: AbortSignal;
  retries?: number;
}

export interface PyramidResult {
  readonly levels: readonly PyramidLevelPlan[];
  readonly method: DownsampleMethod;
  /** Blocks written by this run and blocks skipped because an interrupted run had written them. */
  readonly blocks: number;
  readonly skipped: number;
}

interface PyramidState {
  state?: "building";
  method: DownsampleMethod;
  levels: number;
}

/**
 * Builds levels s1..sN of the multiscale array `arrayPath` in the dataset from its s0, block-wise and
 * resumably: while levels are written the array is marked incomplete (readers refuse it), with the plan
 * recorded under `organelle.pyramid`; running the same call again after an interruption skips the
 * blocks the journals record and ends with the same bytes as an uninterrupted run.
 */
export async function buildPyramid(
  datasetPath: string,
  arrayPath: string,
  opts: BuildPyramidOptions = {},
): Promise<PyramidResult> {
  const ds = path.resolve(datasetPath);
  const group = await readMultiscaleGroup(ds, arrayPath);
  const where = path.join(ds, arrayPath);
  const prior = group.organelle.pyramid as PyramidState | undefined;
  const resuming = prior?.state === "building";
  if (group.organelle.complete === false && !resuming && !opts.allowIncomplete) {
    throw new OrganelleError(
      "Incomplete",
      `${where} was not completely written (interrupted?); re-run the command that makes it before building its pyramid`,
    );
  }
  const base = group.levels[0]!;
  const s0 = await Volume.open(ds, arrayPath, { allowIncomplete: true });
  const method: DownsampleMethod = opts.method ?? (group.kind === "intensity" ? "mean" : "mode");
  if (method === "mean" && s0.meta.dtype === "uint64") {
    throw invalidArgument(`${where}: uint64 arrays hold ids; build their pyramid with --method mode`);
  }
  const prefix = /^(.*?)0$/.exec(base.path)?.[1] ?? "s";
  const plan = planPyramid(s0.meta.shape, base.voxelSize, s0.meta.chunks, {
    maxLevels: opts.maxLevels,
    prefix,
  });
  const samePlan = resuming && prior.method === method && prior.levels === plan.length;
  if (!samePlan && group.levels.length > 1 && !opts.overwrite && !resuming) {
    throw invalidArgument(
      `${where} already has ${group.levels.length} scale levels; pass --overwrite to rebuild them`,
    );
  }
  const compression = await levelCompression(ds, `${arrayPath}/${base.path}`, group.format);
  const blockVoxels = opts.blockVoxels ?? 128;
  const tasks = plan
    .slice(1)
    .map((_, i) => levelTask(ds, arrayPath, plan, i + 1, method, base.offset, blockVoxels));
  if (!samePlan) {
    // A fresh build: old levels and journals of an earlier build of this array must not be reused.
    for (const old of group.levels.slice(1)) {
      await fs.promises.rm(path.join(ds, arrayPath, old.path), { recursive: true, force: true });
    }
    for (const t of tasks) await fs.promises.rm(t.journal, { force: true });
  }
  const levels: MultiscaleLevel[] = plan.map((l) => ({
    path: l.path,
    voxelSize: l.voxelSize,
    offset: base.offset,
  }));
  await writeGroup(ds, arrayPath, group, levels, {
    ...group.organelle,
    complete: false,
    pyramid: { state: "building", method, levels: plan.length } satisfies PyramidState,
  });
  for (const l of plan.slice(1)) {
    await ensureLevelArray(ds, `${arrayPath}/${l.path}`, l, s0.meta.dtype, compression, group.format);
  }

  let blocks = 0;
  let skipped = 0;
  for (const t of tasks) {
    const run = { journal: t.journal, progress: opts.progress, signal: opts.signal, retries: opts.retries };
    const summary: RunSummary =
      opts.runner === "in-process"
        ? await runInProcess(t.spec, t.call, { ...run, table: TASK_TABLE, concurrency: opts.workers })
        : await runInWorkers(t.spec, t.call, { ...run, pool: opts.pool, workers: opts.workers });
    blocks += summary.processed;
    skipped += summary.skipped;
  }

  await writeGroup(ds, arrayPath, group, levels, {
    ...group.organelle,
    complete: opts.complete ?? true,
    pyramid: { method, levels: plan.length } satisfies PyramidState,
  });
  // The levels are durable and marked: the journals have served their purpose.
  for (const t of tasks) await fs.promises.rm(t.journal, { force: true });
  return { levels: plan, method, blocks, skipped };
}

function writeGroup(
  ds: string,
  arrayPath: string,
  group: MultiscaleGroup,
  levels: readonly MultiscaleLevel[],
  organelle: Record<string, unknown>,
): Promise<void> {
  return writeMultiscaleGroup(ds, arrayPath, {
    format: group.format,
    levels,
    kind: group.kind,
    organelle,
    extra: group.extra,
  });
}

/** Blocks of whole chunks (about `blockVoxels` per axis), aligned to the level's chunks. */
function levelTask(
  ds: string,
  arrayPath: string,
  plan: readonly PyramidLevelPlan[],
  k: number,
  method: DownsampleMethod,
  offset: Coordinate,
  blockVoxels: number,
): { spec: BlockwiseTaskSpec; call: TaskCall<DownsampleParams>; journal: string } {
  const l = plan[k]!;
  const vs = l.voxelSize;
  const edge = l.chunks.map((c) => c * Math.max(1, Math.floor(blockVoxels / c)));
  const spec: BlockwiseTaskSpec = {
    name: `pyramid ${arrayPath}/${l.path}`,
    totalWriteRoi: Roi.fromVoxels({ begin: coord(0, 0, 0), shape: l.shape }, vs, offset),
    blockShape: coord(edge[0]! * vs[0], edge[1]! * vs[1], edge[2]! * vs[2]),
    context: coord(0, 0, 0),
    voxelSize: vs,
  };
  const call: TaskCall<DownsampleParams> = {
    fn: "pyramid.downsample",
    params: { datasetPath: ds, arrayPath, source: k - 1, target: k, factor: l.factor, method },
  };
  return { spec, call, journal: jobJournalPath(ds, jobKey(spec, call)) };
}

interface LevelCompression {
  compressor: Compressor;
  level?: number;
}

/** The compressor and level of s0, so every level is written alike. */
async function levelCompression(
  ds: string,
  levelPath: string,
  format: "0.4" | "0.5",
): Promise<LevelCompression> {
  const dir = path.join(ds, levelPath);
  if (format === "0.4") {
    const meta = (await readJson(path.join(dir, ".zarray"))) as {
      compressor?: Record<string, unknown> | null;
    };
    const c = meta.compressor;
    if (!c) return { compressor: "none" };
    const id = String(c.id);
    const compressor: Compressor =
      id === "blosc" ? "blosc" : id === "zstd" ? "zstd" : id === "gzip" || id === "zlib" ? "gzip" : "zstd";
    const level = Number(c.level ?? c.clevel);
    return Number.isFinite(level) ? { compressor, level } : { compressor };
  }
  const meta = (await readJson(path.join(dir, "zarr.json"))) as {
    codecs?: { name: string; configuration?: Record<string, unknown> }[];
  };
  const c = (meta.codecs ?? []).find((x) => ["zstd", "blosc", "gzip"].includes(x.name));
  if (!c) return { compressor: "none" };
  const level = Number(c.configuration?.level ?? c.configuration?.clevel);
  return Number.isFinite(level)
    ? { compressor: c.name as Compressor, level }
    : { compressor: c.name as Compressor };
}

/** Creates a level array unless one with the planned shape, chunks and dtype exists (a resumed build). */
async function ensureLevelArray(
  ds: string,
  levelPath: string,
  l: PyramidLevelPlan,
  dtype: Volume["meta"]["dtype"],
  c: LevelCompression,
  format: "0.4" | "0.5",
): Promise<void> {
  const file = path.join(ds, levelPath, format === "0.4" ? ".zarray" : "zarr.json");
  if (fs.existsSync(file)) {
    const meta = (await readJson(file)) as {
      shape?: number[];
      chunks?: number[];
      chunk_grid?: { configuration?: { chunk_shape?: number[] } };
    };
    const chunks = meta.chunks ?? meta.chunk_grid?.configuration?.chunk_shape;
    if (
      meta.shape?.length === 3 &&
      chunks?.length === 3 &&
      equals(meta.shape as unknown as Coordinate, l.shape) &&
      equals(chunks as unknown as Coordinate, l.chunks)
    ) {
      return;
    }
    await fs.promises.rm(path.join(ds, levelPath), { recursive: true, force: true });
  }
  await createLevelArray(ds, levelPath, {
    shape: l.shape,
    chunks: l.chunks,
    dtype,
    compressor: c.compressor,
    level: c.level,
    format,
  });
}
