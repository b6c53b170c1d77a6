import * as fs from "node:fs";
import type { Command } from "commander";
import { formatPackages, formatRuns, listPackages, listRuns } from "../learn/models.ts";

/** `organelle models [DIR...]`: training runs (checkpoints, validation scores) and installed model packages. */
export function registerModels(program: Command): void {
  program
    .command("models")
    .description(
      "list training runs with their checkpoints, validation loss/F1, best checkpoint and plateau, and model packages (organelle import-model) with their validation F1",
    )
    .argument(
      "[dirs...]",
      "run directories, directories of runs or of model packages (default: runs and models)",
    )
    .option("--json", "print as JSON: {runs, packages}")
    .action((dirs: string[], o: { json?: boolean }) => {
      // The defaults may be absent (nothing trained or imported yet); directories the user names must exist.
      const given = dirs.length > 0;
      const list = given ? dirs : ["runs", "models"].filter((d) => fs.existsSync(d));
      const runs = list.flatMap((d) => listRuns(d));
      const packages = list.flatMap((d) => listPackages(d));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ runs, packages }, null, 2)}\n`);
        return;
      }
      if (runs.length === 0 && packages.length === 0) {
        process.stdout.write("no training runs or model packages found\n");
        return;
      }
      process.stdout.write((runs.length ? formatRuns(runs) : "") + formatPackages(packages));
    });
}
