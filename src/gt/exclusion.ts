import * as path from "node:path";
import type { TaskCall } from "../blockwise/types.ts";
import { invalidArgument } from "../core/errors.ts";
import {
  arraySpec,
  cleanupJob,
  finishOutput,
  type JobOptions,
  prepareOutput,
  runKey,
  runPhase,
  wholeNumber,
  withJob,
} from "../preprocess/jobs.ts";
import type { Structure } from "./label-morphology.ts";
import { openLabels } from "./labels.ts";
import type { ExclusionParams } from "./tasks.ts";

/*
 * `organelle gt exclusion DATASET ORGANELLE`: the metric exclusion zone around loose annotations,
 * labels/<organelle>_exclusion = dilate(labels, d) XOR erode(labels, e) (uint8 0/1; SPEC §2 presets:
 * mito 4/4, Golgi 2/2, ER 1/1, coated pits and nuclear pores 3/1), ASEM's
 * 60_create_metric_mask.py semantics (scipy iterations of the cross, border_value=0), block-wise with
 * max(d, e) voxels of context. Evaluation and training leave these voxels out.
 */

export interface ExclusionOptions extends JobOptions {
  dilate?: number;
  erode?: number;
  structure?: Structure;
  overwrite?: boolean;
  blockVoxels?: number;
}

export interface ExclusionResult {
  readonly array: string;
  readonly output: string;
  readonly dilate: number;
  readonly erode: number;
  readonly structure: Structure;
  readonly levels: number;
}

export function exclusionArrayPath(labelsPath: string): string {
  return `${labelsPath}_exclusion`;
}

export async function exclusionZoneOf(
  datasetPath: string,
  organelle: string,
  opts: ExclusionOptions = {},
): Promise<ExclusionResult> {
  const lab = await openLabels(datasetPath, organelle);
  const preset = lab.preset.exclusion;
  if (!preset && (opts.dilate === undefined || opts.erode === undefined)) {
    throw invalidArgument(
      `the sources give no exclusion zone for ${lab.preset.title}; pass --dilate N and --erode N (voxels)`,
    );
  }
  const dilate = wholeNumber(opts.dilate ?? preset!.dilate, "--dilate");
  const erode = wholeNumber(opts.erode ?? preset!.erode, "--erode");
  const structure = opts.structure ?? "cross";
  const edge = wholeNumber(opts.blockVoxels ?? 256, "--block", 1);
  const src = lab.volume;
  const output = exclusionArrayPath(lab.arrayPath);
  const key = runKey({ v: 1, verb: "gt exclusion", array: lab.arrayPath, dilate, erode, structure, edge });
  const { runId } = await prepareOutput(
    lab.datasetPath,
    output,
    {
      shape: src.meta.shape,
      dtype: "uint8",
      voxelSize: src.meta.voxelSize,
      offset: src.meta.offset,
      chunks: src.meta.chunks,
      compressor: "zstd",
      format: src.meta.format,
      kind: "mask",
      attrs: { exclusion: { labels: lab.arrayPath, dilate, erode, structure } },
    },
    key,
    { overwrite: opts.overwrite },
  );
  return withJob(lab.datasetPath, key, runId, opts, async (job) => {
    const reach = Math.max(dilate, erode);
    const spec = arraySpec(`gt exclusion ${lab.preset.name}`, src, edge, [reach, reach, reach]);
    const call: TaskCall<ExclusionParams> = {
      fn: "gt.exclusion",
      params: {
        input: { datasetPath: lab.datasetPath, arrayPath: lab.arrayPath },
        output: { datasetPath: lab.datasetPath, arrayPath: output },
        dilate,
        erode,
        structure,
      },
    };
    await runPhase(job, spec, call);
    const levels = await finishOutput(job, lab.datasetPath, output, src.levels.length);
    await cleanupJob(job, [{ spec, call }]);
    return {
      array: lab.arrayPath,
      output: path.join(lab.datasetPath, output),
      dilate,
      erode,
      structure,
      levels,
    };
  });
}
