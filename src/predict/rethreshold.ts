import * as fs from "node:fs";
import * as path from "node:path";
import { jobJournalPath, jobKey, runInWorkers } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { runKey } from "../preprocess/jobs.ts";
import { finishRunOutput, openPrediction, openRunOutput, predictedRegions } from "./outputs.ts";
import type { ThresholdParams } from "./tasks.ts";
import { checkThreshold, thresholdLevel } from "./threshold-level.ts";

/*
 * `organelle threshold DATASET PRED --threshold T`: the segmentation of an existing probability map at
 * another threshold, without predicting again: PRED/seg is rewritten block-wise from PRED/prob (whole
 * chunks over the predicted region), with its pyramid when prob has one. Resumable like prediction.
 */

export interface RethresholdOptions {
  readonly threshold: number;
  readonly workers?: number;
  readonly progress?: boolean;
  readonly signal?: AbortSignal;
}

export interface RethresholdResult {
  readonly group: string;
  readonly threshold: number;
  readonly level: number;
  readonly blocks: number;
  readonly resumedBlocks: number;
  readonly seconds: number;
}

export async function rethreshold(
  datasetPath: string,
  pred: string,
  o: RethresholdOptions,
): Promise<RethresholdResult> {
  const started = performance.now();
  const dataset = path.resolve(datasetPath);
  const threshold = checkThreshold(o.threshold);
  const level = thresholdLevel(threshold);
  const p = await openPrediction(dataset, pred);
  const prob = p.prob;
  const segPath = `${p.group}/seg`;
  const key = runKey({ verb: "threshold", group: p.group, level, prob: prob.attrs.prediction ?? null });
  const { runId } = await openRunOutput(
    dataset,
    segPath,
    {
      shape: prob.meta.shape,
      dtype: "uint8",
      voxelSize: prob.meta.voxelSize,
      offset: prob.meta.offset,
      chunks: prob.meta.chunks,
      format: prob.meta.format,
      kind: "mask",
      attrs: { prediction: { ...((prob.attrs.prediction as object) ?? {}), threshold } },
    },
    key,
    true,
  );
  const vs = prob.meta.voxelSize;
  const chunkNm = coord(
    prob.meta.chunks[0] * vs[0],
    prob.meta.chunks[1] * vs[1],
    prob.meta.chunks[2] * vs[2],
  );
  const regions = predictedRegions(prob);
  const area =
    regions === "all" || regions.length === 0
      ? prob.roi
      : regions
          .reduce((a, r) => a.union(r))
          .snapToGrid(chunkNm, "grow", prob.meta.offset)
          .intersect(prob.roi);
  const edge = (d: number) =>
    prob.meta.chunks[d]! * Math.max(1, Math.floor(128 / prob.meta.chunks[d]!)) * vs[d]!;
  const spec: BlockwiseTaskSpec = {
    name: `threshold ${p.group}`,
    totalWriteRoi: area,
    blockShape: coord(edge(0), edge(1), edge(2)),
    context: uniform(0),
    voxelSize: vs,
  };
  const call: TaskCall<ThresholdParams> = {
    fn: "predict.threshold",
    params: { dataset, prob: `${p.group}/prob`, seg: segPath, level },
  };
  const journal = jobJournalPath(dataset, `${jobKey(spec, call)}-${runId}`);
  const summary = await runInWorkers(spec, call, {
    journal,
    ...(o.workers ? { workers: o.workers } : {}),
    ...(o.progress === false ? { progress: false as const } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  await finishRunOutput(dataset, segPath, {
    pyramid: prob.levels.length > 1,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  await fs.promises.rm(journal, { force: true });
  return {
    group: p.group,
    threshold,
    level,
    blocks: summary.blocks,
    resumedBlocks: summary.skipped,
    seconds: (performance.now() - started) / 1000,
  };
}
