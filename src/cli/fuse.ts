import type { Command } from "commander";
import { formatDuration } from "../blockwise/progress.ts";
import { invalidArgument } from "../core/errors.ts";
import { fuse } from "../predict/fuse.ts";
import { probability, workersOption } from "./args.ts";

function list(what: string) {
  return (v: string): string[] => {
    const items = v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (items.length === 0) throw invalidArgument(`${what}: expected a comma-separated list, got '${v}'`);
    return items;
  };
}

interface FuseFlags {
  preds: string[];
  priority?: string[];
  threshold?: number;
  output: string;
  overwrite?: boolean;
  workers?: number;
  json?: boolean;
}

/** `organelle fuse DATASET --preds a,b,c`: one label volume from several organelles' predictions. */
export function registerFuse(program: Command): void {
  program
    .command("fuse")
    .description(
      "fuse several organelles' predictions into one label volume (id i = the i-th of --preds, 0 = none; the id table is kept in the array's organelle.fusion.ids): a voxel claimed by several goes to the highest probability, or with --priority to the first claimant in that order; resumable",
    )
    .argument("<dataset>", "dataset container (.zarr)")
    .requiredOption(
      "--preds <list>",
      "predictions to fuse, comma-separated: predictions/<model>/<organelle> or <model>/<organelle>",
      list("--preds"),
    )
    .option(
      "--priority <list>",
      "organelle (or prediction) names, highest priority first; default: highest probability wins",
      list("--priority"),
    )
    .option(
      "--threshold <t>",
      "claim threshold for every input (default: each prediction's segmentation threshold)",
      probability("--threshold"),
    )
    .option("--output <path>", "output array", "predictions/fused")
    .option("--overwrite", "replace the output if it exists")
    .addOption(workersOption())
    .option("--json", "print the id table as JSON")
    .action(async (dataset: string, o: FuseFlags) => {
      const r = await fuse(dataset, {
        preds: o.preds,
        ...(o.priority ? { priority: o.priority } : {}),
        ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
        output: o.output,
        overwrite: o.overwrite ?? false,
        ...(o.workers ? { workers: o.workers } : {}),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const lines = [
        `${dataset}/${r.output}: ${r.dtype} labels, ${r.rule === "priority" ? "priority order" : "highest probability"} wins; ${r.contested.toLocaleString("en-US")} voxels were claimed by more than one; ${formatDuration(r.seconds)}`,
        "  id  organelle  threshold  voxels  prediction",
        ...r.ids.map(
          (i) =>
            `  ${String(i.id).padStart(2)}  ${i.organelle.padEnd(9)}  ${i.threshold.toFixed(2).padStart(9)}  ${i.voxels.toLocaleString("en-US")}  ${i.prediction}`,
        ),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
