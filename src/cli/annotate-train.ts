import type { Command } from "commander";
import { checkTrainConfig, writeAnnotationTrainConfig } from "../annotate/annotation-train.ts";
import { finetune } from "../learn/finetune.ts";
import { train } from "../learn/train.ts";
import { positiveInt } from "./args.ts";

interface AnnotateTrainFlags {
  organelle: string;
  finetune?: string;
  model?: string;
  steps?: number;
  config?: string;
  runDir?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** `organelle annotate-train DATASET --organelle mito [--finetune RUN[:STEP]]`: train on saved annotations. */
export function registerAnnotateTrain(program: Command): void {
  program
    .command("annotate-train")
    .description(
      "train (or fine-tune) on a dataset's annotated blocks: writes a training configuration with the label array's training ROIs as the source and its validation ROIs as validation (cell mask and exclusion zone picked up), checks it, and starts organelle train / finetune",
    )
    .argument("<dataset>", "dataset container with labels/<organelle> and its ROIs, e.g. cell.zarr")
    .requiredOption("--organelle <name>", "organelle preset of the label array, e.g. mito")
    .option(
      "--finetune <run[:step]>",
      "fine-tune this run's checkpoint (default: its best) instead of training",
    )
    .option("--model <preset>", "model preset for a new training run (default small)")
    .option("--steps <n>", "training steps", positiveInt("--steps"))
    .option("--config <file>", "configuration to write (default ./<dataset>-<organelle>.train.json)")
    .option("--run-dir <dir>", "run directory (default runs/<dataset>-<organelle> beside the configuration)")
    .option("--dry-run", "write and check the configuration (arrays, grids, ROIs) without training")
    .option("--json", "print the result as JSON")
    .action(async (dataset: string, o: AnnotateTrainFlags) => {
      const written = await writeAnnotationTrainConfig(dataset, {
        organelle: o.organelle,
        finetune: o.finetune !== undefined,
        ...(o.model ? { model: o.model } : {}),
        ...(o.steps ? { steps: o.steps } : {}),
        ...(o.config ? { config: o.config } : {}),
        ...(o.runDir ? { runDir: o.runDir } : {}),
      });
      const { config, sources } = await checkTrainConfig(written.file);
      if (o.dryRun) {
        if (o.json) {
          process.stdout.write(
            `${JSON.stringify({ config: written.file, runDir: config.runDir, sources }, null, 2)}\n`,
          );
          return;
        }
        const lines = [`configuration ${written.file} (run directory ${config.runDir}):`];
        for (const s of sources) {
          lines.push(
            `  ${s.role} ${s.name}: ${s.rois.map((r) => `${r.name} ${r.roi}`).join("; ")}${s.mask ? ", cell mask" : ""}${s.exclusion ? ", exclusion zone" : ""}`,
          );
        }
        lines.push(
          `check passed; train with 'organelle ${o.finetune ? `finetune --from ${o.finetune}` : "train"} ${written.file}' or run this command without --dry-run`,
        );
        process.stdout.write(`${lines.join("\n")}\n`);
        return;
      }
      const ac = new AbortController();
      const onInt = () => {
        if (ac.signal.aborted) process.exit(130);
        process.stderr.write(
          "\norganelle: stopping after this step (a checkpoint is saved); Ctrl-C again to quit now\n",
        );
        ac.abort();
      };
      process.on("SIGINT", onInt);
      try {
        const opts = { config, configText: written.text, signal: ac.signal };
        const r = o.finetune ? await finetune(o.finetune, opts) : await train(opts);
        const best = r.summary.choice.best;
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ config: written.file, ...r }, null, 2)}\n`
            : `configuration ${written.file}\nrun ${r.runDir}: steps ${r.startStep + 1}..${r.endStep}${best ? `, best checkpoint step ${best.step} (validation F1 ${best.f1.toFixed(3)})` : ""}\n`,
        );
      } finally {
        process.off("SIGINT", onInt);
      }
    });
}
