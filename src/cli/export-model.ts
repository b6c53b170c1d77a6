import type { Command } from "commander";
import { type Coordinate, format, parseCoordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { exportModel } from "../learn/model-package.ts";

interface ExportModelFlags {
  out: string;
  checkpoint?: "best" | "latest" | number;
  name?: string;
  description?: string;
  authors?: string[];
  license?: string;
  tags?: string;
  inputShape?: Coordinate;
  sample?: string;
  overwrite?: boolean;
  json?: boolean;
}

function checkpointArg(v: string): "best" | "latest" | number {
  if (v === "best" || v === "latest") return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw invalidArgument(`--checkpoint ${v}: give best, latest or a step number`);
  return n;
}

/** `organelle export-model RUN_OR_MODEL --out NAME.zip`: a bioimage.io model package (format 0.5). */
export function registerExportModel(program: Command): void {
  program
    .command("export-model")
    .description(
      "write a trained model as a bioimage.io model package (rdf.yaml format 0.5, ONNX + TorchScript weights with sha256, test input/output, cover, README) that also holds organelle's model.json and the checkpoint; a .zip or a directory",
    )
    .argument("<model>", "a training run RUN_DIR[:STEP], a checkpoint in a run, or a model package directory")
    .requiredOption("--out <file>", "package to write: NAME.zip (or a directory when not ending in .zip)")
    .option(
      "--checkpoint <step>",
      "best (by validation F1, default), latest, or a step number",
      checkpointArg,
    )
    .option("--name <name>", "package name (default the run's name and step)")
    .option("--description <text>", "one-paragraph description")
    .option(
      "--authors <name>",
      "an author (repeat for several; default $USER)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--license <spdx>", "SPDX licence of the weights", "CC-BY-4.0")
    .option("--tags <list>", "comma-separated tags (default: 3d, electron-microscopy, the organelle, ...)")
    .option(
      "--input-shape <z,y,x>",
      "input size the graphs are traced at (default the training input); must be a valid input of the network",
      (v: string) => parseCoordinate(v, "--input-shape", { integer: true, positive: true }),
    )
    .option(
      "--sample <dataset>",
      "dataset whose raw gives the test input (default the run's first training dataset)",
    )
    .option("--overwrite", "replace --out if it exists")
    .option("--json", "print the result as JSON")
    .action(async (model: string, o: ExportModelFlags) => {
      const r = await exportModel({
        source: model,
        out: o.out,
        ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.description ? { description: o.description } : {}),
        ...(o.authors ? { authors: o.authors } : {}),
        ...(o.license ? { license: o.license } : {}),
        ...(o.tags
          ? {
              tags: o.tags
                .split(",")
                .map((t) => t.trim())
                .filter(Boolean),
            }
          : {}),
        ...(o.inputShape ? { inputShape: o.inputShape } : {}),
        ...(o.sample ? { sample: o.sample } : {}),
        ...(o.overwrite ? { overwrite: true } : {}),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const bytes = r.files.reduce((n, f) => n + f.bytes, 0);
      process.stdout.write(
        `${r.out}: ${r.name} (${r.organelle}${r.step !== null ? `, step ${r.step}` : ""}), input ${format(r.inputShape)} -> output ${format(r.outputShape)}, ${r.files.length} files, ${(bytes / 1e6).toFixed(1)} MB; ONNX = PyTorch within ${r.onnxMaxDiff.toExponential(1)} on the test input (${r.testInput})\n`,
      );
    });
}
