import * as fs from "node:fs";
import { type Command, Option } from "commander";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { parseRoi, type Roi } from "../core/roi.ts";
import type { EvaluateOptions } from "../evaluate/evaluate.ts";
import { evaluate } from "../evaluate/evaluate.ts";
import { thresholdRange } from "../evaluate/metrics.ts";
import { evaluationJson, evaluationPlot, evaluationsCsv, formatEvaluation } from "../evaluate/report.ts";
import type { EngineKind } from "../predict/engines.ts";
import { positiveInt, probability } from "./args.ts";

export interface EvaluateFlags {
  labels?: string;
  roi?: string[];
  mask: boolean;
  maskArray?: string;
  exclusion: boolean;
  threshold?: number;
  sweep?: number[];
  csv?: string;
  json?: boolean;
  plot?: string;
  workers?: number;
  engine?: EngineKind;
  force?: boolean;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function sweepOf(v: string): number[] {
  const m = /^\s*([\d.]+)\s*:\s*([\d.]+)\s*:\s*([\d.]+)\s*$/.exec(v);
  const [from, to, step] = m
    ? [Number(m[1]), Number(m[2]), Number(m[3])]
    : [Number.NaN, Number.NaN, Number.NaN];
  if (!m || !(from >= 0 && to <= 1 && from <= to && step > 0)) {
    throw invalidArgument(
      `--sweep '${v}': expected FROM:TO:STEP with 0 <= FROM <= TO <= 1 and STEP > 0, e.g. 0.05:0.95:0.05`,
    );
  }
  return thresholdRange(from, to, step);
}

function roisOf(list: string[] | undefined): readonly Roi[] | "all" | undefined {
  if (!list || list.length === 0) return undefined;
  if (list.includes("all")) {
    if (list.length > 1) throw invalidArgument("--roi all: give it alone");
    return "all";
  }
  return list.map((r) => parseRoi(r, "--roi"));
}

/** The options evaluate and compare share. */
export function addEvaluateOptions(cmd: Command): Command {
  return cmd
    .option("--labels <array>", "ground truth array (default labels/<organelle>)")
    .option(
      "--roi <roi>",
      "evaluate this ROI, 'z,y,x:dz,dy,dx' in nm (repeatable), or 'all' (default: the labels' validation ROIs)",
      collect,
    )
    .option("--no-mask", "count every voxel, not only inside the cell mask")
    .option("--mask-array <path>", "the cell mask array (default masks/cell when the dataset has it)")
    .option("--no-exclusion", "count the exclusion zone labels/<organelle>_exclusion too")
    .option(
      "--threshold <t>",
      "threshold of the per-ROI table (default: the segmentation's, else 0.5)",
      probability("--threshold"),
    )
    .option("--sweep <from:to:step>", "thresholds of the sweep (default 0.05:0.95:0.05)", sweepOf)
    .option("--csv <file>", "also write the numbers as CSV")
    .option("--json", "print JSON instead of the table")
    .option("--plot <file.png>", "also write a PNG: precision-recall curve and metrics against the threshold")
    .option(
      "--workers <n>",
      "worker threads for large ROIs (default: one per core)",
      positiveInt("--workers"),
    )
    .addOption(
      new Option("--engine <engine>", "engine for predicting models (onnx or torch)").choices([
        "onnx",
        "torch",
      ]),
    )
    .option("--force", "predict although a model was trained at another voxel size");
}

export function evaluateOptions(o: EvaluateFlags): Omit<EvaluateOptions, "pred" | "model"> {
  const rois = roisOf(o.roi);
  return {
    ...(o.labels ? { labels: o.labels } : {}),
    ...(rois ? { rois } : {}),
    mask: o.mask,
    ...(o.maskArray ? { maskArray: o.maskArray } : {}),
    exclusion: o.exclusion,
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(o.sweep ? { sweep: o.sweep } : {}),
    ...(o.workers ? { workers: o.workers } : {}),
    predictOptions: { ...(o.engine ? { engine: o.engine } : {}), force: o.force ?? false },
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

export function writeOutputFile(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fromFsError(e, file, "writing");
  }
}

/** `organelle evaluate DATASET --pred P | --model M`: F1 and friends per ROI, threshold sweep. */
export function registerEvaluate(program: Command): void {
  const cmd = program
    .command("evaluate")
    .description(
      "score a prediction (or a model, predicting the ROIs first) against ground truth: precision, recall, F1 (= Dice), IoU per ROI and overall, voxel-wise inside the cell mask and outside the exclusion zone; threshold sweep with the best threshold",
    )
    .argument("<dataset>", "dataset container (.zarr)")
    .option("--pred <prediction>", "predictions/<model>/<organelle> (or <model>/<organelle>)")
    .option(
      "--model <model>",
      "a model (run RUN_DIR[:STEP], checkpoint, package): predict the ROIs, then score",
    );
  addEvaluateOptions(cmd).action(
    async (dataset: string, o: EvaluateFlags & { pred?: string; model?: string }) => {
      const e = await evaluate(dataset, {
        ...evaluateOptions(o),
        ...(o.pred ? { pred: o.pred } : {}),
        ...(o.model ? { model: o.model } : {}),
      });
      if (o.csv) writeOutputFile(o.csv, evaluationsCsv([e]));
      if (o.plot) writeOutputFile(o.plot, evaluationPlot([e]));
      process.stdout.write(o.json ? `${JSON.stringify(evaluationJson(e), null, 2)}\n` : formatEvaluation(e));
    },
  );
}
