import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { formatDuration } from "../blockwise/progress.ts";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { loadTrainConfig, type TrainConfig } from "../learn/config.ts";
import { type FinetuneResult, finetune } from "../learn/finetune.ts";
import { type TrainResult, train } from "../learn/train.ts";

interface TrainFlags {
  steps?: number;
  device?: "auto" | "cpu" | "cuda";
  threads?: number;
  json?: boolean;
}

function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw invalidArgument(`${what}: expected a whole number >= 1, got '${v}'`);
    return n;
  };
}

function device(v: string): "auto" | "cpu" | "cuda" {
  if (v !== "auto" && v !== "cpu" && v !== "cuda")
    throw invalidArgument(`--device ${v}: choose auto, cpu or cuda`);
  return v;
}

function withFlags(cfg: TrainConfig, o: TrainFlags): TrainConfig {
  return {
    ...cfg,
    training: { ...cfg.training, ...(o.steps ? { steps: o.steps } : {}) },
    engine: {
      ...cfg.engine,
      ...(o.device ? { device: o.device } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
    },
    resolved: {
      ...cfg.resolved,
      training: { ...(cfg.resolved.training as object), ...(o.steps ? { steps: o.steps } : {}) },
    },
  };
}

/** Ctrl-C stops after the current step with a checkpoint; a second one ends at once. */
function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onInt = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(
      "\norganelle: stopping after this step (a checkpoint is saved; run the same command to continue); Ctrl-C again to quit now\n",
    );
    ac.abort();
  };
  process.on("SIGINT", onInt);
  return { signal: ac.signal, dispose: () => process.off("SIGINT", onInt) };
}

function report(r: TrainResult | FinetuneResult): string {
  const t = r.timing;
  const s = r.summary;
  const lines = [
    `run ${r.runDir}: steps ${r.startStep + 1}..${r.endStep}${r.resumed ? ` (resumed from step ${r.startStep})` : ""}${r.stopped ? " (stopped early; run the same command to continue)" : ""}`,
    `model ${r.shape.input.join("x")} -> ${r.shape.output.join("x")} voxels, ${r.parameters.toLocaleString("en")} parameters; engine ${r.engine.device} (${r.engine.deviceName}, ${r.engine.threads} threads, torch ${r.engine.torch})`,
    `${t.steps} steps in ${formatDuration(t.seconds)}: ${t.stepsPerSecond.toFixed(2)} steps/s, the engine waited for data ${(t.engineIdleShare * 100).toFixed(1)} % of the time (the loop waited for batches ${(t.batchWaitShare * 100).toFixed(1)} %); validation ${formatDuration(t.validationSeconds)}`,
  ];
  if ("from" in r) {
    lines.push(
      `fine-tuned from ${r.from.run} step ${r.from.step}: validation F1 before ${r.before?.toFixed(3) ?? "-"}, after ${r.after?.toFixed(3) ?? "-"} (best checkpoint)`,
    );
  }
  if (s.choice.best) {
    const b = s.choice.best;
    lines.push(
      `best checkpoint by validation F1: step ${b.step} (F1 ${b.f1.toFixed(3)}, loss ${b.loss.toFixed(4)})`,
    );
  }
  if (s.choice.plateau) {
    const p = s.choice.plateau;
    lines.push(
      `fit regime (validation loss within ${(p.tolerance * 100).toFixed(0)} % of its minimum ${p.minLoss.toFixed(4)}): steps ${p.from}-${p.to}, middle checkpoint step ${p.chosen}`,
    );
  }
  lines.push(`summary: ${path.join(r.runDir, "summary.html")}`);
  return `${lines.join("\n")}\n`;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fromFsError(e, file, "reading the training configuration");
  }
}

function addCommon(cmd: Command): Command {
  return cmd
    .option(
      "--steps <n>",
      "train to this many steps (overrides training.steps; a finished run continues)",
      positiveInt("--steps"),
    )
    .option("--device <d>", "auto, cpu or cuda (overrides engine.device)", device)
    .option(
      "--threads <n>",
      "CPU threads for the engine (overrides engine.threads)",
      positiveInt("--threads"),
    )
    .option("--json", "print the result as JSON");
}

/** `organelle train CONFIG` and `organelle finetune --from RUN[:STEP] CONFIG`. */
export function registerTrain(program: Command): void {
  addCommon(
    program
      .command("train")
      .description(
        "train a U-Net for one organelle from a YAML/JSON configuration: sampling with rejection, augmentation, class-balanced loss, checkpoints, validation, plots and an HTML summary in the run directory; run the same command again to continue after an interruption",
      )
      .argument("<config>", "training configuration (.yaml or .json); see docs/learn.md"),
  ).action(async (file: string, o: TrainFlags) => {
    const config = withFlags(loadTrainConfig(file), o);
    const { signal, dispose } = interruptSignal();
    try {
      const r = await train({ config, configText: readText(file), signal });
      process.stdout.write(o.json ? `${JSON.stringify({ ...r, summary: r.summary }, null, 2)}\n` : report(r));
    } finally {
      dispose();
    }
  });
  addCommon(
    program
      .command("finetune")
      .description(
        "continue training a model on new ground truth with the same hyper-parameters; validates the starting checkpoint first and reports F1 before and after",
      )
      .requiredOption(
        "--from <run[:step]>",
        "run directory and checkpoint step (default: its best checkpoint by validation F1)",
      )
      .argument(
        "<config>",
        "configuration with the new sources and validation ROIs; the model comes from --from",
      ),
  ).action(async (file: string, o: TrainFlags & { from: string }) => {
    const config = withFlags(loadTrainConfig(file), o);
    const { signal, dispose } = interruptSignal();
    try {
      const r = await finetune(o.from, { config, configText: readText(file), signal });
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : report(r));
    } finally {
      dispose();
    }
  });
}
