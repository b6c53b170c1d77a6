import type { Command } from "commander";
import { formatRuns, listRuns } from "../learn/models.ts";

/** `organelle models [RUNS_DIR]`: training runs, their checkpoints and validation scores. */
export function registerModels(program: Command): void {
  program
    .command("models")
    .description("list training runs with their checkpoints, validation loss/F1, best checkpoint and plateau")
    .argument("[runs]", "a run directory or a directory of runs", "runs")
    .option("--json", "print as JSON")
    .action((dir: string, o: { json?: boolean }) => {
      const runs = listRuns(dir);
      process.stdout.write(o.json ? `${JSON.stringify(runs, null, 2)}\n` : formatRuns(runs));
    });
}
