import type { Command } from "commander";
import { type Coordinate, parseCoordinate } from "../core/coordinate.ts";
import { CLAHE_DEFAULTS } from "../gt/presets.ts";
import { runClahe } from "../preprocess/clahe.ts";
import { numberArg, workersOption } from "./args.ts";

interface ClaheFlags {
  array: string;
  output: string;
  kernel?: Coordinate;
  clip?: number;
  nbins?: number;
  block?: number;
  workers?: number;
  overwrite?: boolean;
  pyramid: boolean;
}

/** `organelle clahe DATASET`: 3D CLAHE of raw into raw_clahe. */
export function registerClahe(program: Command): void {
  const d = CLAHE_DEFAULTS;
  program
    .command("clahe")
    .description(
      `3D CLAHE (skimage equalize_adapthist semantics; SPEC defaults kernel ${d.kernelVoxels}, clip ${d.clipLimit}, ${d.nbins} bins) of an intensity array into raw_clahe: block-wise on worker threads, equal to a whole-volume run, with a pyramid like the input's; resumable (run the same command again)`,
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .option("--array <path>", "input array", "raw")
    .option("--output <path>", "output array", "raw_clahe")
    .option(
      "--kernel <z,y,x>",
      `kernel (tile) size in voxels, one number if isotropic (default ${d.kernelVoxels})`,
      (v: string) => parseCoordinate(v, "--kernel", { integer: true, positive: true }),
    )
    .option(
      "--clip <limit>",
      `clip limit, 0..1 (default ${d.clipLimit}; 0 = no clipping)`,
      numberArg("--clip", { min: 0 }),
    )
    .option(
      "--nbins <n>",
      `histogram bins (default ${d.nbins})`,
      numberArg("--nbins", { integer: true, min: 2 }),
    )
    .option(
      "--block <voxels>",
      "write-block edge in voxels, whole chunks (default: >= 2 kernels; each block reads about one kernel around itself)",
      numberArg("--block", { integer: true, min: 1 }),
    )
    .addOption(workersOption())
    .option("--overwrite", "replace an existing output")
    .option("--no-pyramid", "write only s0")
    .action(async (dataset: string, o: ClaheFlags) => {
      const r = await runClahe(dataset, {
        array: o.array,
        output: o.output,
        kernel: o.kernel,
        clipLimit: o.clip,
        nbins: o.nbins,
        blockVoxels: o.block,
        workers: o.workers,
        overwrite: o.overwrite,
        pyramid: o.pyramid,
      });
      const p = r.params;
      const resumed = r.resumedBlocks > 0 ? ` (resumed: ${r.resumedBlocks} blocks were already done)` : "";
      process.stdout.write(
        `${dataset}/${o.output}: CLAHE of ${o.array} (kernel ${p.kernelSize.join(" x ")}, clip ${p.clipLimit}, ${p.nbins} bins), ${r.shape.join(" x ")} ${r.dtype}, ${r.levels} scale level${r.levels === 1 ? "" : "s"}, ${r.blocks} blocks in ${r.seconds.toFixed(1)} s${resumed}\n`,
      );
    });
}
