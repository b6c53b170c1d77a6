import { type Command, Option } from "commander";
import { invalidArgument } from "../core/errors.ts";
import { CELL_MASK_DEFAULTS } from "../gt/presets.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import { runMask } from "../preprocess/mask.ts";
import { numberArg, workersOption } from "./args.ts";

function windowOf(v: string): [number, number] {
  const parts = v.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n)) || !(parts[0]! < parts[1]!)) {
    throw invalidArgument(`--window '${v}': expected LO,HI with LO < HI (voxels with LO < v < HI are kept)`);
  }
  return [parts[0]!, parts[1]!];
}

function fillOf(v: string): number | "all" {
  if (v === "all") return "all";
  return numberArg("--fill-holes", { integer: true, min: 0 })(v);
}

interface MaskFlags {
  array: string;
  output: string;
  window?: [number, number];
  opening?: number;
  closing?: number;
  nm?: boolean;
  fillHoles?: number | "all";
  removeSmall?: number;
  connectivity?: string;
  block?: number;
  workers?: number;
  overwrite?: boolean;
  pyramid: boolean;
}

/** `organelle mask DATASET`: the cell mask masks/cell. */
export function registerMask(program: Command): void {
  const d = CELL_MASK_DEFAULTS;
  program
    .command("mask")
    .description(
      `cell mask (masks/cell, uint8 0/1), ASEM's recipe with its defaults: window ${d.windowLow} < v < ${d.windowHigh}, binary opening with ball(${d.openingRadiusVoxels}), closing with ball(${d.closingRadiusVoxels}) (skimage semantics, radii in voxels), fill holes < ${d.fillHolesSmallerThan} voxels (skimage remove_small_holes), remove objects < ${d.removeObjectsSmallerThan} voxels. Exact at full resolution on any volume: window and morphology run block-wise with the balls' context; hole filling and object removal are global passes (block labelling + a merge of the blocks' faces + a second block-wise pass), so the mask equals a whole-volume computation. Resumable.`,
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .option("--array <path>", "intensity array", "raw")
    .option("--output <path>", "output array", "masks/cell")
    .option("--window <lo,hi>", `keep lo < v < hi (default ${d.windowLow},${d.windowHigh})`, windowOf)
    .option(
      "--opening <radius>",
      `ball radius of the opening (default ${d.openingRadiusVoxels}; 0 = none)`,
      numberArg("--opening", { min: 0 }),
    )
    .option(
      "--closing <radius>",
      `ball radius of the closing (default ${d.closingRadiusVoxels}; 0 = none)`,
      numberArg("--closing", { min: 0 }),
    )
    .option("--nm", "radii are in nm (balls follow the voxel size) instead of voxels")
    .option(
      "--fill-holes <n|all>",
      `fill background pieces smaller than n voxels, also at the border (default ${d.fillHolesSmallerThan}); 'all' fills every enclosed hole (scipy binary_fill_holes); 0 = none`,
      fillOf,
    )
    .option(
      "--remove-small <n>",
      `remove objects smaller than n voxels (default ${d.removeObjectsSmallerThan}; 0 = none)`,
      numberArg("--remove-small", { integer: true, min: 0 }),
    )
    .addOption(new Option("--connectivity <n>", "6, 18 or 26 (default 6)").choices(["6", "18", "26"]))
    .option(
      "--block <voxels>",
      "write-block edge in voxels, whole chunks (default 256; larger blocks need less merge memory)",
      numberArg("--block", { integer: true, min: 1 }),
    )
    .addOption(workersOption())
    .option("--overwrite", "replace an existing mask")
    .option("--no-pyramid", "write only s0")
    .action(async (dataset: string, o: MaskFlags) => {
      const r = await runMask(dataset, {
        array: o.array,
        output: o.output,
        windowLow: o.window?.[0],
        windowHigh: o.window?.[1],
        openingRadius: o.opening,
        closingRadius: o.closing,
        radiiInNm: o.nm,
        fillHoles: o.fillHoles,
        removeSmall: o.removeSmall,
        connectivity: o.connectivity ? (Number(o.connectivity) as Connectivity) : undefined,
        blockVoxels: o.block,
        workers: o.workers,
        overwrite: o.overwrite,
        pyramid: o.pyramid,
      });
      const total = r.shape[0] * r.shape[1] * r.shape[2];
      const lines = [
        `${dataset}/${o.output}: ${r.foreground.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} voxels in the cell (${((100 * r.foreground) / total).toFixed(1)} %), ${r.levels} scale level${r.levels === 1 ? "" : "s"}, ${r.seconds.toFixed(1)} s`,
        ...r.stages.map((s) =>
          s.stage.op === "fillHoles"
            ? `  filled ${s.changed} of ${s.found} background pieces (${s.voxels.toLocaleString("en-US")} voxels)`
            : `  removed ${s.changed} of ${s.found} objects (${s.voxels.toLocaleString("en-US")} voxels)`,
        ),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
