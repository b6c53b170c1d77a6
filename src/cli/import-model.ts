import type { Command } from "commander";
import { format } from "../core/coordinate.ts";
import { DEFAULT_TOLERANCE, importModel } from "../learn/model-package.ts";
import { numberArg, positiveInt } from "./args.ts";

interface ImportModelFlags {
  into: string;
  name?: string;
  overwrite?: boolean;
  tolerance: number;
  threads?: number;
  check?: boolean;
  json?: boolean;
}

/** `organelle import-model FILE.zip|DIR`: check a model package and install it under models/. */
export function registerImportModel(program: Command): void {
  program
    .command("import-model")
    .description(
      "check a bioimage.io model package exported by organelle (required rdf.yaml keys, sha256 of every file, the test input through ONNX Runtime against the test output) and install it as MODELS/<name>, a model organelle predict and organelle models take",
    )
    .argument("<package>", "package: a .zip or a directory")
    .option("--into <dir>", "folder to install into", "models")
    .option("--name <name>", "directory name (default the package's name)")
    .option("--overwrite", "replace an installed model of the same name")
    .option(
      "--tolerance <x>",
      "largest accepted |ONNX Runtime - test output|",
      numberArg("--tolerance", { min: 0 }),
      DEFAULT_TOLERANCE,
    )
    .option("--threads <n>", "ONNX Runtime threads for the test (default 1)", positiveInt("--threads"))
    .option("--check", "check only; install nothing")
    .option("--json", "print the result as JSON")
    .action(async (src: string, o: ImportModelFlags) => {
      const r = await importModel(src, {
        into: o.into,
        tolerance: o.tolerance,
        ...(o.name ? { name: o.name } : {}),
        ...(o.overwrite ? { overwrite: true } : {}),
        ...(o.threads ? { threads: o.threads } : {}),
        ...(o.check ? { checkOnly: true } : {}),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${src}: valid (${r.files} files, sha256 match, test output reproduced by ONNX Runtime within ${r.maxDiff.toExponential(1)}); ${r.organelle} at ${format(r.voxelSize)} nm, input ${format(r.inputShape)} -> ${format(r.outputShape)}${r.dir ? `\ninstalled: ${r.dir} (organelle predict ${r.dir} DATASET)` : ""}\n`,
      );
    });
}
