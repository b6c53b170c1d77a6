import type { Command } from "commander";
import { compare } from "../evaluate/compare.ts";
import { evaluationJson, evaluationPlot, evaluationsCsv, formatComparison } from "../evaluate/report.ts";
import { addEvaluateOptions, type EvaluateFlags, evaluateOptions, writeOutputFile } from "./evaluate.ts";

/** `organelle compare DATASET A B ...`: several predictions or models side by side on the same ROIs. */
export function registerCompare(program: Command): void {
  const cmd = program
    .command("compare")
    .description(
      "several predictions or models (runs RUN_DIR[:STEP], checkpoints, packages; predicted on the ROIs first) side by side on the same ROIs: F1 per ROI, overall precision, recall, F1, IoU, best threshold",
    )
    .argument("<dataset>", "dataset container (.zarr)")
    .argument("<items...>", "predictions (predictions/<model>/<organelle>) or models");
  addEvaluateOptions(cmd).action(async (dataset: string, items: string[], o: EvaluateFlags) => {
    const list = await compare(dataset, items, evaluateOptions(o));
    if (o.csv) writeOutputFile(o.csv, evaluationsCsv(list));
    if (o.plot) writeOutputFile(o.plot, evaluationPlot(list));
    process.stdout.write(
      o.json ? `${JSON.stringify(list.map(evaluationJson), null, 2)}\n` : formatComparison(list),
    );
  });
}
