import { type Command, Option } from "commander";
import { buildPyramid } from "../store/pyramid.ts";
import { positiveInt, workersOption } from "./args.ts";

/** `organelle pyramid DATASET ARRAY`: (re)builds the scale levels of an array written without them. */
export function registerPyramid(program: Command): void {
  program
    .command("pyramid")
    .description(
      "build the scale levels s1..sN of an array: factor 2 per level (an axis already 2x or more coarser than the finest waits), down to about one chunk; mean for intensity arrays, mode for labels and masks; resumable",
    )
    .argument("<dataset>", "dataset container (.zarr)")
    .argument("<array>", "array in the dataset, e.g. raw or labels/mito")
    .addOption(
      new Option(
        "--method <method>",
        "downsampling (default: mean for intensity, mode for label/mask)",
      ).choices(["mean", "mode"]),
    )
    .option("--levels <n>", "number of levels at most, s0 included", positiveInt("--levels"))
    .option("--overwrite", "replace scale levels the array already has")
    .addOption(workersOption())
    .action(
      async (
        dataset: string,
        array: string,
        o: { method?: "mean" | "mode"; levels?: number; overwrite?: boolean; workers?: number },
      ) => {
        const r = await buildPyramid(dataset, array, {
          method: o.method,
          maxLevels: o.levels,
          overwrite: o.overwrite,
          workers: o.workers,
        });
        const resumed = r.skipped > 0 ? ` (resumed: ${r.skipped} blocks were already written)` : "";
        process.stdout.write(
          `${dataset}/${array}: ${r.levels.length} levels, ${r.method} downsampling${resumed}\n`,
        );
        for (const l of r.levels) {
          process.stdout.write(
            `  ${l.path}  ${l.shape.join(" x ")} voxels  @ ${l.voxelSize.join(" x ")} nm\n`,
          );
        }
      },
    );
}
