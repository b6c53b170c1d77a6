import * as fs from "node:fs";
import * as path from "node:path";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import {
  cleanupJob,
  finishOutput,
  type JobContext,
  type JobOptions,
  prepareOutput,
  setAttrs,
  tmpContainerPath,
  withJob,
} from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import { type OpenedLabels, swapInArray } from "./labels.ts";

/*
 * In-place rewrite of a label array (gt clean, gt bias) without ever leaving it half written: the new
 * array is written block-wise to the same path inside the run's hidden container, completed there (its
 * pyramid included), then swapped in by renames (labels.ts). Its attributes keep the old ones (ROIs...)
 * and append one entry to `organelle.gt`, the history of what was done to the labels. Interrupted runs
 * resume with the same command; a run killed after completing the new array just finishes the swap.
 */

export interface HistoryEntry {
  readonly op: string;
  readonly [key: string]: unknown;
}

export function labelHistory(attrs: Record<string, unknown>): HistoryEntry[] {
  return Array.isArray(attrs.gt) ? (attrs.gt as HistoryEntry[]) : [];
}

export type RewriteBody<R extends HistoryEntry> = (
  job: JobContext,
  output: ArrayRef,
) => Promise<{ phases: { spec: BlockwiseTaskSpec; call: TaskCall }[]; entry: R }>;

export async function rewriteLabels<R extends HistoryEntry>(
  lab: OpenedLabels,
  key: string,
  opts: JobOptions,
  body: RewriteBody<R>,
): Promise<{ entry: R; resumed: boolean }> {
  const container = tmpContainerPath(lab.datasetPath, key);
  const src = lab.volume;
  const done = await Volume.open(container, lab.arrayPath, { allowIncomplete: true }).catch(() => undefined);
  if (done && done.attrs.complete !== false) {
    const history = labelHistory(done.attrs);
    await swapInArray(lab.datasetPath, lab.arrayPath, path.join(container, lab.arrayPath));
    await fs.promises.rm(container, { recursive: true, force: true });
    return { entry: history[history.length - 1] as R, resumed: true };
  }
  const { complete: _c, pyramid: _p, run: _r, runId: _i, kind: _k, ...kept } = src.attrs;
  const { runId, resumed } = await prepareOutput(
    container,
    lab.arrayPath,
    {
      shape: src.meta.shape,
      dtype: src.meta.dtype,
      voxelSize: src.meta.voxelSize,
      offset: src.meta.offset,
      chunks: src.meta.chunks,
      compressor: src.meta.compressor,
      format: src.meta.format,
      kind: src.meta.kind,
      attrs: kept,
    },
    key,
  );
  return withJob(lab.datasetPath, key, runId, opts, async (job) => {
    const r = await body(job, { datasetPath: container, arrayPath: lab.arrayPath });
    const entry = { ...r.entry, at: new Date().toISOString() } as R;
    await setAttrs(container, lab.arrayPath, { gt: [...labelHistory(kept), entry] });
    await finishOutput(job, container, lab.arrayPath, src.levels.length);
    await swapInArray(lab.datasetPath, lab.arrayPath, path.join(container, lab.arrayPath));
    await cleanupJob(job, r.phases);
    return { entry, resumed };
  });
}
