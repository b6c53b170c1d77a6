import * as fs from "node:fs";
import * as path from "node:path";
import { invalidArgument } from "../core/errors.ts";
import { type EvaluateOptions, type Evaluation, evaluate } from "./evaluate.ts";

/*
 * `organelle compare DATASET A B ...`: several models or checkpoints side by side on the same ROIs. Each
 * item is a prediction in the dataset (predictions/<model>/<organelle> or <model>/<organelle>) or a
 * model reference (a run RUN_DIR[:STEP], a checkpoint, a package), which is predicted on the ROIs first.
 * All are scored against the same labels, mask, exclusion zone, threshold and sweep.
 */

export function isModelReference(dataset: string, item: string): boolean {
  const base = item.replace(/:\d+$/, "");
  return (
    fs.existsSync(base) &&
    !fs.existsSync(path.join(dataset, item.startsWith("predictions/") ? item : `predictions/${item}`))
  );
}

export async function compare(
  dataset: string,
  items: readonly string[],
  o: Omit<EvaluateOptions, "pred" | "model">,
): Promise<Evaluation[]> {
  if (items.length < 2) throw invalidArgument("give at least two predictions or models to compare");
  const out: Evaluation[] = [];
  // One threshold for all (each prediction's own segmentation threshold could differ).
  const common = { ...o, threshold: o.threshold ?? 0.5 };
  for (const item of items) {
    const e = await evaluate(
      dataset,
      isModelReference(dataset, item) ? { ...common, model: item } : { ...common, pred: item },
    );
    const first = out[0];
    if (
      first &&
      (e.labels !== first.labels ||
        e.rois.map((r) => r.roi.toString()).join() !== first.rois.map((r) => r.roi.toString()).join())
    ) {
      throw invalidArgument(
        `${e.prediction} is scored against ${e.labels} on other ROIs than ${first.prediction} (${first.labels}); compare predictions of one organelle, or give --labels and --roi`,
      );
    }
    out.push(e);
  }
  return out;
}
