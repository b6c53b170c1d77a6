import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  jobJournalPath,
  jobKey,
  type ProgressSink,
  type RunSummary,
  runInWorkers,
  WorkerPool,
} from "../blockwise/index.ts";
import { canonicalJson } from "../blockwise/job-key.ts";
import { Progress } from "../blockwise/progress.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord, min } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, isOrganelleError } from "../core/errors.ts";
import { readMultiscaleGroup, writeMultiscaleGroup } from "../store/multiscale.ts";
import { buildPyramid } from "../store/pyramid.ts";
import { type CreateVolumeOptions, Volume } from "../store/volume.ts";

/*
 * What every block-wise preprocessing and ground-truth verb shares:
 *
 * - a run key (hash of the verb and all its options) recorded in the output's `organelle.run`
 *   attribute while it is being written: an interrupted run resumes only when started again with the
 *   same options; anything else is an error that says to pass --overwrite;
 * - outputs are created incomplete (readers refuse them) and marked complete last, after the pyramid;
 * - intermediate arrays live in a hidden container `<dataset>/.organelle/tmp/<key>.zarr` (never listed
 *   by `organelle info`), journals in `<dataset>/.organelle/jobs`; both are removed once done;
 * - phases run on one worker pool through the block-wise runner, each with its resume journal.
 */

export function runKey(identity: unknown): string {
  return createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, 20);
}

export interface JobContext {
  readonly datasetPath: string;
  /** The run's options (hash): names its hidden container. */
  readonly key: string;
  /**
   * This attempt's id, kept in the output's attributes while it is written: journals are named by it,
   * so a fresh output (first run, --overwrite) never inherits blocks journaled for an earlier one.
   */
  readonly runId: string;
  readonly pool: WorkerPool;
  readonly progress: ProgressSink | null | undefined;
  readonly signal: AbortSignal | undefined;
}

export interface JobOptions {
  /** Worker threads (default: one per core). */
  workers?: number;
  /** Reuse these worker threads. */
  pool?: WorkerPool;
  /** Progress output; null for none (default: stderr unless ORGANELLE_QUIET=1). */
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

/** Runs `body` with a worker pool (the caller's or one of its own, closed afterwards). */
export async function withJob<T>(
  datasetPath: string,
  key: string,
  runId: string,
  opts: JobOptions,
  body: (job: JobContext) => Promise<T>,
): Promise<T> {
  const pool = opts.pool ?? new WorkerPool({ workers: opts.workers ?? os.availableParallelism() });
  try {
    return await body({
      datasetPath: path.resolve(datasetPath),
      key,
      runId,
      pool,
      progress: opts.progress,
      signal: opts.signal,
    });
  } finally {
    if (!opts.pool) await pool.close();
  }
}

/** Runs one phase on the job's pool, resumably (journal in the dataset keyed by spec and call). */
export async function runPhase<P>(
  job: JobContext,
  spec: BlockwiseTaskSpec,
  call: TaskCall<P>,
): Promise<RunSummary> {
  const journal = journalOf(job, spec, call);
  const progress =
    job.progress === null
      ? false
      : job.progress
        ? new Progress({ label: spec.name, total: countBlocks(spec), unit: "blocks", sink: job.progress })
        : undefined;
  try {
    return await runInWorkers(spec, call, { pool: job.pool, journal, progress, signal: job.signal });
  } finally {
    if (progress) progress.finish();
  }
}

/** Journals of finished phases are removed by `cleanupJob` once the output is complete. */
export async function cleanupJob(
  job: JobContext,
  phases: readonly { spec: BlockwiseTaskSpec; call: TaskCall }[],
) {
  for (const p of phases) {
    await fs.promises.rm(journalOf(job, p.spec, p.call), { force: true });
  }
  await fs.promises.rm(tmpContainerPath(job.datasetPath, job.key), { recursive: true, force: true });
}

function journalOf(job: JobContext, spec: BlockwiseTaskSpec, call: TaskCall): string {
  return jobJournalPath(job.datasetPath, `${jobKey(spec, call)}-${job.runId}`);
}

/** A fresh run id. */
export function newRunId(): string {
  return randomBytes(6).toString("hex");
}

function countBlocks(spec: BlockwiseTaskSpec): number {
  const n = (d: number) => Math.ceil(spec.totalWriteRoi.shape[d]! / spec.blockShape[d]! - 1e-9);
  return n(0) * n(1) * n(2);
}

/** `<dataset>/.organelle/tmp/<key>.zarr`: a hidden container for a run's intermediate arrays. */
export function tmpContainerPath(datasetPath: string, key: string): string {
  return path.join(path.resolve(datasetPath), ".organelle", "tmp", `${key}.zarr`);
}

/**
 * The output array of a run, created incomplete with `organelle.run = key` and a fresh run id, or
 * reopened (with its run id) when an interrupted run with the same key left it. A complete array, or
 * one of another run, is an error unless `overwrite`.
 */
export async function prepareOutput(
  datasetPath: string,
  arrayPath: string,
  create: CreateVolumeOptions,
  key: string,
  opts: { overwrite?: boolean } = {},
): Promise<{ volume: Volume; resumed: boolean; runId: string }> {
  const where = path.join(datasetPath, arrayPath);
  const existing = opts.overwrite
    ? undefined
    : await Volume.open(datasetPath, arrayPath, { allowIncomplete: true }).catch((e) => {
        if (isOrganelleError(e, "NotFound")) return undefined;
        throw e;
      });
  if (existing) {
    if (existing.attrs.complete !== false) {
      throw invalidArgument(`${where} already exists; pass --overwrite to replace it`);
    }
    if (existing.attrs.run !== key || typeof existing.attrs.runId !== "string") {
      throw invalidArgument(
        `${where} was left by an interrupted run with other options; run it again with the same options to resume, or pass --overwrite`,
      );
    }
    return { volume: existing, resumed: true, runId: existing.attrs.runId };
  }
  const runId = newRunId();
  const volume = await Volume.create(datasetPath, arrayPath, {
    ...create,
    attrs: { ...(create.attrs ?? {}), run: key, runId },
    overwrite: true,
  });
  return { volume, resumed: false, runId };
}

/**
 * An intermediate array of a run in its hidden container: reopened if it exists (resumed run), else
 * created. Its contents are only trusted through the phase journals that wrote it.
 */
export async function tmpArray(
  job: JobContext,
  name: string,
  create: Omit<CreateVolumeOptions, "overwrite" | "kind">,
): Promise<{ datasetPath: string; arrayPath: string; volume: Volume }> {
  const container = tmpContainerPath(job.datasetPath, job.key);
  const existing = await Volume.open(container, name, { allowIncomplete: true }).catch(() => undefined);
  const volume =
    existing &&
    existing.meta.dtype === create.dtype &&
    existing.meta.shape.every((s, d) => s === create.shape[d])
      ? existing
      : await Volume.create(container, name, { ...create, kind: "mask", overwrite: true });
  return { datasetPath: container, arrayPath: name, volume };
}

/**
 * Marks a written output complete: builds its pyramid (levels like the source's: `levels` at most,
 * 1 = s0 only) and drops the run key.
 */
export async function finishOutput(
  job: JobContext,
  datasetPath: string,
  arrayPath: string,
  levels: number,
): Promise<number> {
  let built = 1;
  if (levels > 1) {
    const r = await buildPyramid(datasetPath, arrayPath, {
      allowIncomplete: true,
      complete: false,
      overwrite: true,
      maxLevels: levels,
      pool: job.pool,
      signal: job.signal,
      progress: job.progress === null ? false : undefined,
    });
    built = r.levels.length;
  }
  await setAttrs(datasetPath, arrayPath, { run: undefined, runId: undefined, complete: true });
  return built;
}

/** Merges keys into an array's `organelle` attributes; `undefined` removes a key. */
export async function setAttrs(datasetPath: string, arrayPath: string, patch: Record<string, unknown>) {
  const g = await readMultiscaleGroup(datasetPath, arrayPath);
  const organelle: Record<string, unknown> = { ...g.organelle };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete organelle[k];
    else organelle[k] = v;
  }
  await writeMultiscaleGroup(datasetPath, arrayPath, {
    format: g.format,
    levels: g.levels,
    kind: g.kind,
    organelle,
    extra: g.extra,
  });
}

/**
 * Write blocks for an array: whole chunks, about `edge` voxels per axis (rounded down to whole
 * chunks, at least one), so blocks never share a chunk. Returns the block shape in nm.
 */
export function chunkBlockShape(vol: Volume, edge: number): Coordinate {
  const c = vol.meta.chunks;
  const vs = vol.meta.voxelSize;
  const k = (d: number) => c[d]! * Math.max(1, Math.floor(edge / c[d]!));
  const vox = min(coord(k(0), k(1), k(2)), roundUpToChunks(vol.meta.shape, c));
  return coord(vox[0] * vs[0], vox[1] * vs[1], vox[2] * vs[2]);
}

function roundUpToChunks(shape: Coordinate, chunks: Coordinate): Coordinate {
  return coord(
    Math.ceil(shape[0] / chunks[0]) * chunks[0],
    Math.ceil(shape[1] / chunks[1]) * chunks[1],
    Math.ceil(shape[2] / chunks[2]) * chunks[2],
  );
}

/** A block-wise spec over a whole array (s0), blocks aligned to its chunks. */
export function arraySpec(
  name: string,
  vol: Volume,
  edge: number,
  contextVoxels: Coordinate = coord(0, 0, 0),
): BlockwiseTaskSpec {
  const vs = vol.meta.voxelSize;
  return {
    name,
    totalWriteRoi: vol.roi,
    blockShape: chunkBlockShape(vol, edge),
    context: coord(contextVoxels[0] * vs[0], contextVoxels[1] * vs[1], contextVoxels[2] * vs[2]),
    voxelSize: vs,
  };
}

/** Checks a whole-number option (voxels, sizes) and names it in the error. */
export function wholeNumber(v: number, what: string, min = 0): number {
  if (!(Number.isInteger(v) && v >= min)) {
    throw invalidArgument(`${what}: expected a whole number >= ${min}, got ${v}`);
  }
  return v;
}

/** Moves a directory into place with a rename, mapping filesystem errors to one line. */
export async function renameDir(from: string, to: string, what: string): Promise<void> {
  try {
    await fs.promises.mkdir(path.dirname(to), { recursive: true });
    await fs.promises.rename(from, to);
  } catch (e) {
    throw fromFsError(e, to, what);
  }
}
