import type { Command } from "commander";
import { formatDuration } from "../blockwise/progress.ts";
import { rethreshold } from "../predict/rethreshold.ts";
import { probability, workersOption } from "./args.ts";

/** `organelle threshold DATASET PRED --threshold T`: re-threshold a probability map. */
export function registerThreshold(program: Command): void {
  program
    .command("threshold")
    .description(
      "rewrite the segmentation PRED/seg of a prediction from its probability map PRED/prob at another threshold, without predicting again (voxel = organelle when prob >= threshold); resumable",
    )
    .argument("<dataset>", "dataset container (.zarr)")
    .argument("<pred>", "the prediction: predictions/<model>/<organelle> (or <model>/<organelle>)")
    .requiredOption("--threshold <t>", "probability threshold, 0..1", probability("--threshold"))
    .addOption(workersOption())
    .action(async (dataset: string, pred: string, o: { threshold: number; workers?: number }) => {
      const r = await rethreshold(dataset, pred, {
        threshold: o.threshold,
        ...(o.workers ? { workers: o.workers } : {}),
      });
      const resumed = r.resumedBlocks > 0 ? ` (${r.resumedBlocks} done before an interruption)` : "";
      process.stdout.write(
        `${dataset}/${r.group}/seg: threshold ${r.threshold} (stored probability >= ${r.level}/255), ${r.blocks} blocks${resumed}, ${formatDuration(r.seconds)}\n`,
      );
    });
}
