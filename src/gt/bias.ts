import type { TaskCall } from "../blockwise/types.ts";
import { invalidArgument } from "../core/errors.ts";
import { arraySpec, type JobOptions, runKey, runPhase, wholeNumber } from "../preprocess/jobs.ts";
import type { Structure } from "./label-morphology.ts";
import { openLabels } from "./labels.ts";
import { labelHistory, rewriteLabels } from "./rewrite.ts";
import type { BiasParams } from "./tasks.ts";

/*
 * `organelle gt bias DATASET ORGANELLE`: bias correction of annotations that miss the membrane (SPEC
 * §2: mito +3 voxels, Golgi +1, others 0), rewriting labels/<organelle> in place, block-wise. Binary
 * labels are dilated; instance labels grow into the background (a background voxel takes the largest
 * id within reach, ASEM's rule; labelled voxels keep their id). Recorded in the labels' history; a
 * second correction needs `again`.
 */

export interface BiasOptions extends JobOptions {
  /** Voxels to grow by (default: the preset's). */
  voxels?: number;
  structure?: Structure;
  /** Correct labels that were already bias-corrected. */
  again?: boolean;
  blockVoxels?: number;
}

export interface BiasResult {
  readonly array: string;
  readonly voxels: number;
  readonly structure: Structure;
  /** False when there was nothing to do (0 voxels). */
  readonly changed: boolean;
  readonly resumed: boolean;
}

export async function biasCorrect(
  datasetPath: string,
  organelle: string,
  opts: BiasOptions = {},
): Promise<BiasResult> {
  const lab = await openLabels(datasetPath, organelle);
  const voxels = wholeNumber(opts.voxels ?? lab.preset.biasDilation, "--voxels");
  const structure = opts.structure ?? "cross";
  const edge = wholeNumber(opts.blockVoxels ?? 256, "--block", 1);
  const base = { array: lab.arrayPath, voxels, structure };
  if (voxels === 0) return { ...base, changed: false, resumed: false };
  const prior = labelHistory(lab.volume.attrs).filter((h) => h.op === "bias");
  if (prior.length > 0 && !opts.again) {
    const total = prior.reduce((n, h) => n + Number(h.voxels ?? 0), 0);
    throw invalidArgument(
      `${lab.volume.describe()} was already bias-corrected (+${total} voxels); pass --again to grow it once more`,
    );
  }
  const key = runKey({
    v: 1,
    verb: "gt bias",
    array: lab.arrayPath,
    voxels,
    structure,
    edge,
    after: prior.length,
  });
  const { resumed } = await rewriteLabels(lab, key, opts, async (job, output) => {
    const spec = arraySpec(`gt bias ${lab.preset.name}`, lab.volume, edge, [voxels, voxels, voxels]);
    const call: TaskCall<BiasParams> = {
      fn: "gt.bias",
      params: {
        input: { datasetPath: lab.datasetPath, arrayPath: lab.arrayPath },
        output,
        voxels,
        structure,
      },
    };
    await runPhase(job, spec, call);
    return { phases: [{ spec, call }], entry: { op: "bias", voxels, structure } };
  });
  return { ...base, changed: true, resumed };
}
