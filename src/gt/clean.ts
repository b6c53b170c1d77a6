import type { Connectivity } from "../ops/volume3d.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { type ComponentStage, runComponentStage, type StageReport } from "../preprocess/components.ts";
import { type JobOptions, runKey, tmpArray, wholeNumber } from "../preprocess/jobs.ts";
import { openLabels } from "./labels.ts";
import { rewriteLabels } from "./rewrite.ts";

/*
 * `organelle gt clean DATASET ORGANELLE`: the preset clean-up of SPEC §2 (mito and Golgi: remove
 * objects < 27 voxels; ER: fill holes < 20,000 voxels; nothing for nuclear pores and coated pits),
 * rewriting labels/<organelle> in place. Objects are 6-connected components of binary (uint8) labels, or
 * ids of instance labels (skimage remove_small_objects semantics); holes are background pieces enclosed
 * by the labels (not touching the volume border) — an instance hole takes the id around it when only
 * one id touches it. Removal runs before filling. Exact on volumes of any size (components.ts).
 */

export interface CleanOptions extends JobOptions {
  /** Remove objects smaller than this many voxels (default: the preset's; 0 = no removal). */
  removeSmall?: number;
  /** Fill holes smaller than this many voxels (default: the preset's; 0 = no filling). */
  fillHoles?: number;
  connectivity?: Connectivity;
  /** Write-block edge in voxels (whole chunks; default 256). */
  blockVoxels?: number;
}

export interface CleanResult {
  readonly array: string;
  readonly instances: boolean;
  readonly removeSmall: number;
  readonly fillHoles: number;
  /** Empty when there was nothing to do. */
  readonly stages: readonly StageReport[];
  readonly resumed: boolean;
}

export async function cleanLabels(
  datasetPath: string,
  organelle: string,
  opts: CleanOptions = {},
): Promise<CleanResult> {
  const lab = await openLabels(datasetPath, organelle);
  const removeSmall = wholeNumber(
    opts.removeSmall ?? lab.preset.cleanup.removeObjectsSmallerThan,
    "--remove-small",
  );
  const fillHoles = wholeNumber(opts.fillHoles ?? lab.preset.cleanup.fillHolesSmallerThan, "--fill-holes");
  const connectivity = opts.connectivity ?? 6;
  const edge = wholeNumber(opts.blockVoxels ?? 256, "--block", 1);
  const stages: ComponentStage[] = [];
  if (removeSmall > 0)
    stages.push({ op: "removeSmall", minSize: removeSmall, connectivity, instances: lab.instances });
  if (fillHoles > 0) {
    stages.push({
      op: "fillHoles",
      smallerThan: fillHoles,
      includeBorder: false,
      connectivity,
      instances: lab.instances,
    });
  }
  const base = { array: lab.arrayPath, instances: lab.instances, removeSmall, fillHoles };
  if (stages.length === 0) return { ...base, stages: [], resumed: false };
  const key = runKey({ v: 1, verb: "gt clean", array: lab.arrayPath, stages, edge });
  const src = lab.volume;
  const { entry, resumed } = await rewriteLabels(lab, key, opts, async (job, output) => {
    const targets: ArrayRef[] = [{ datasetPath: lab.datasetPath, arrayPath: lab.arrayPath }];
    for (let i = 0; i < stages.length - 1; i++) {
      const t = await tmpArray(job, `step${i}`, {
        shape: src.meta.shape,
        dtype: src.meta.dtype,
        voxelSize: src.meta.voxelSize,
        offset: src.meta.offset,
        chunks: src.meta.chunks,
        compressor: "zstd",
        level: 1,
        format: src.meta.format,
      });
      targets.push({ datasetPath: t.datasetPath, arrayPath: t.arrayPath });
    }
    targets.push(output);
    const phases = [];
    const reports: StageReport[] = [];
    for (let i = 0; i < stages.length; i++) {
      const r = await runComponentStage(
        job,
        stages[i]!,
        src,
        targets[i]!,
        targets[i + 1]!,
        edge,
        `stage${i}`,
      );
      phases.push(...r.phases);
      reports.push(r.report);
    }
    return { phases, entry: { op: "clean", removeSmall, fillHoles, connectivity, stages: reports } };
  });
  return { ...base, stages: (entry.stages as StageReport[]) ?? [], resumed };
}
