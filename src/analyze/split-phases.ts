import * as fs from "node:fs";
import * as path from "node:path";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { fromFsError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { arraySpec, type JobContext, runPhase } from "../preprocess/jobs.ts";
import type { Volume } from "../store/volume.ts";
import { assignSplitIds, type SplitParams } from "./split.ts";
import type { SplitBoxesParams, SplitObjectsParams, SplitWriteParams } from "./split-task.ts";

/*
 * The block-wise split of `organelle refine --split`, run on the finished instance array in place:
 * boxes of every id (block-wise, merged here) -> each object split whole from its box on the worker
 * threads (pieces 2..k kept as sparse files) -> new ids assigned here in id order after `maxId`
 * (deterministic, whatever the block size or worker count) -> chunk-aligned rewrite of the blocks the
 * split objects meet. Every phase is journaled, so an interrupted run resumes.
 */

export interface SplitReport {
  /** Objects that split, and the ids added for their pieces 2..k. */
  readonly split: number;
  readonly added: number;
  /** Watershed fragments over all objects, before agglomeration. */
  readonly fragments: number;
}

export async function runSplitPhases(
  job: JobContext,
  geometry: Volume,
  output: ArrayRef,
  prediction: { ref: ArrayRef; scale: number } | undefined,
  split: SplitParams,
  maxId: number,
  edge: number,
  objectsPerBlock: number,
): Promise<{ report: SplitReport; phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] }> {
  const phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] = [];
  const boxSpec = arraySpec(`refine --split: boxes of ${output.arrayPath}`, geometry, edge);
  const boxCall: TaskCall<SplitBoxesParams> = { fn: "analyze.splitBoxes", params: { input: output } };
  const boxRun = await runPhase(job, boxSpec, boxCall);
  phases.push({ spec: boxSpec, call: boxCall });
  const merged = new Map<number, number[]>();
  for (const v of boxRun.values.values()) {
    const a = v as number[];
    for (let k = 0; k < a.length; k += 7) {
      const id = a[k]!;
      const b = merged.get(id);
      if (!b) {
        merged.set(id, a.slice(k + 1, k + 7));
        continue;
      }
      for (let d = 0; d < 3; d++) {
        b[d] = Math.min(b[d]!, a[k + 1 + d]!);
        b[3 + d] = Math.max(b[3 + d]!, a[k + 4 + d]!);
      }
    }
  }
  const order = [...merged.keys()].sort((a, b) => a - b);
  const ids = Float64Array.from(order);
  const boxes = new Float64Array(order.length * 6);
  for (let k = 0; k < order.length; k++) boxes.set(merged.get(order[k]!)!, 6 * k);
  const dir = path.join(job.datasetPath, ".organelle", "tmp", `${job.key}.split`);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fromFsError(e, dir, "creating the split work directory");
  }
  const counts = new Map<number, number>();
  let fragments = 0;
  if (order.length > 0) {
    const spec: BlockwiseTaskSpec = {
      name: `refine --split: split objects of ${output.arrayPath}`,
      totalWriteRoi: new Roi(coord(0, 0, 0), coord(1, 1, order.length)),
      blockShape: coord(1, 1, objectsPerBlock),
      context: coord(0, 0, 0),
    };
    const call: TaskCall<SplitObjectsParams> = {
      fn: "analyze.splitObjects",
      params: {
        input: output,
        ...(prediction ? { prediction: prediction.ref } : {}),
        scale: prediction?.scale ?? 1,
        split,
        ids,
        boxes,
        dir,
      },
    };
    const r = await runPhase(job, spec, call);
    phases.push({ spec, call });
    for (const v of r.values.values()) {
      const a = v as number[];
      for (let k = 0; k < a.length; k += 3) {
        counts.set(a[k]!, a[k + 1]!);
        fragments += a[k + 2]!;
      }
    }
  }
  const bases = assignSplitIds(counts, maxId);
  const splitIds = [...bases.keys()];
  let added = 0;
  for (const id of splitIds) added += counts.get(id)! - 1;
  if (splitIds.length > 0) {
    const wIds = Float64Array.from(splitIds);
    const wBoxes = new Float64Array(splitIds.length * 6);
    for (let k = 0; k < splitIds.length; k++) wBoxes.set(merged.get(splitIds[k]!)!, 6 * k);
    const spec = arraySpec(`refine --split: write ${output.arrayPath}`, geometry, edge);
    const call: TaskCall<SplitWriteParams> = {
      fn: "analyze.splitWrite",
      params: {
        output,
        ids: wIds,
        boxes: wBoxes,
        bases: Float64Array.from(splitIds.map((id) => bases.get(id)!)),
        dir,
      },
    };
    await runPhase(job, spec, call);
    phases.push({ spec, call });
  }
  return { report: { split: splitIds.length, added, fragments }, phases };
}

/** Removes the sparse piece files once the output is complete. */
export async function removeSplitDir(job: JobContext): Promise<void> {
  await fs.promises.rm(path.join(job.datasetPath, ".organelle", "tmp", `${job.key}.split`), {
    recursive: true,
    force: true,
  });
}
