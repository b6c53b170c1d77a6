import * as fs from "node:fs";
import * as path from "node:path";
import { coord } from "../core/coordinate.ts";
import { invalidArgument, notFound } from "../core/errors.ts";
import type { TrainConfig } from "./config.ts";
import { summarizeRun } from "./report.ts";
import { checkpointPath, listCheckpoints, RUN_JSON, type RunInfo, readJsonFile } from "./run-dir.ts";
import { type TrainOptions, type TrainResult, train } from "./train.ts";
import { specFromJson } from "./unet-spec.ts";

/*
 * `organelle finetune --from RUN[:STEP] CONFIG` (SPEC §4): continue training a model on new ground
 * truth with the same hyper-parameters. The network (spec and input shape) is the source run's; the
 * configuration gives the new data, sampling, augmentation and optimizer settings (a fresh Adam with its
 * learning rate: moment estimates from the old data would steer the first steps on the new). STEP
 * defaults to the source run's best checkpoint by validation F1 (its latest when none was validated).
 * Before training, the starting weights are validated on the new configuration's validation ROIs, so the
 * run reports F1 before and after.
 */

export interface FinetuneSource {
  readonly run: string;
  readonly step: number;
  readonly checkpoint: string;
  readonly info: RunInfo;
}

/** Parses RUN[:STEP] and finds the checkpoint. */
export function resolveFrom(from: string, plateauTolerance = 0.05): FinetuneSource {
  const m = /^(.*?)(?::(\d+))?$/.exec(from)!;
  const run = path.resolve(m[1]!);
  if (!fs.existsSync(path.join(run, RUN_JSON))) {
    throw notFound(`--from ${from}: ${run} is not a training run directory (no ${RUN_JSON})`);
  }
  const info = readJsonFile<RunInfo>(path.join(run, RUN_JSON));
  const steps = listCheckpoints(run);
  if (steps.length === 0) throw notFound(`--from ${from}: ${run} has no checkpoints`);
  let step: number;
  if (m[2] !== undefined) {
    step = Number(m[2]);
    if (!steps.includes(step)) {
      throw notFound(`--from ${from}: ${run} has no checkpoint at step ${step}; it has ${steps.join(", ")}`);
    }
  } else {
    step = summarizeRun(run, plateauTolerance).choice.best?.step ?? steps.at(-1)!;
  }
  return { run, step, checkpoint: checkpointPath(run, step), info };
}

/** The configuration with the source run's network. */
export function withSourceModel(cfg: TrainConfig, src: FinetuneSource): TrainConfig {
  const spec = specFromJson(src.info.model.spec, `${path.join(src.run, RUN_JSON)}: model.spec`);
  const s = src.info.model.inputShape;
  if (src.info.organelle !== cfg.organelle) {
    throw invalidArgument(
      `--from ${src.run} learned ${src.info.organelle}, the configuration asks for ${cfg.organelle}`,
    );
  }
  const model = { preset: src.info.model.preset, spec, inputShape: coord(s[0]!, s[1]!, s[2]!) };
  const resolved = {
    ...cfg.resolved,
    model: { ...(model.preset ? { preset: model.preset } : {}), spec, input_shape: [...model.inputShape] },
    finetune_from: { run: src.run, step: src.step },
  };
  return { ...cfg, model, resolved };
}

export interface FinetuneResult extends TrainResult {
  readonly from: FinetuneSource;
  /** Validation F1 of the starting weights and of the run's best checkpoint. */
  readonly before: number | null;
  readonly after: number | null;
}

export async function finetune(from: string, o: TrainOptions): Promise<FinetuneResult> {
  const src = resolveFrom(from, o.config.evaluation.plateauTolerance);
  const config = withSourceModel(o.config, src);
  const r = await train({
    ...o,
    config,
    initFrom: { run: src.run, step: src.step, checkpoint: src.checkpoint },
  });
  const before = r.summary.initial?.f1 ?? null;
  const after = r.summary.choice.best?.f1 ?? null;
  return { ...r, from: src, before, after };
}
