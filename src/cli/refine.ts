import { type Command, Option } from "commander";
import { runRefine } from "../analyze/refine.ts";
import { invalidArgument } from "../core/errors.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import { numberArg, workersOption } from "./args.ts";

function idList(what: string) {
  return (v: string): number[] =>
    v.split(",").map((s) => {
      const n = Number(s.trim());
      if (!(Number.isInteger(n) && n >= 1)) throw invalidArgument(`${what} '${v}': expected ids like 3,7,12`);
      return n;
    });
}

interface RefineFlags {
  input: string;
  organelle: string;
  output?: string;
  sigma?: number;
  threshold?: number;
  minVolume?: number;
  fillHoles: boolean;
  maskBy?: string;
  maskMode?: "inside" | "outside";
  keep?: number[];
  remove?: number[];
  connectivity?: string;
  split?: boolean;
  seeds?: "distance" | "prediction";
  minSeedDistance?: number;
  seedThreshold?: number;
  mergeQuantile?: number;
  mergeThreshold?: number;
  block?: number;
  workers?: number;
  overwrite?: boolean;
  pyramid: boolean;
}

/** `organelle refine DATASET --input ARRAY --organelle NAME`: instances from a prediction. */
export function registerRefine(program: Command): void {
  program
    .command("refine")
    .description(
      "COSEM's refinement of a prediction into instances: Gaussian smoothing (sigma nm), threshold, masking by another class, hole filling, size filter (nm^3, organelle preset), connected components with ids global over the volume, keep/remove id lists, and with --split the watershed + agglomeration of over-merged objects (split pieces get new ids after the largest); writes segmentations/<organelle> (uint32) with a mode pyramid. Block-wise and resumable; label/mask inputs are binarised first.",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .requiredOption("--input <array>", "prediction (uint8 0..255, uint16, float32 0..1) or label array")
    .requiredOption(
      "--organelle <name>",
      "organelle (preset for the minimum size; output segmentations/<name>)",
    )
    .option("--output <array>", "output array (default segmentations/<organelle>)")
    .option("--sigma <nm>", "Gaussian sigma in nm (default 12; 0 = none)", numberArg("--sigma", { min: 0 }))
    .option(
      "--threshold <p>",
      "probability threshold (default 0.5: uint8 v >= 128)",
      numberArg("--threshold", { min: 0 }),
    )
    .option(
      "--min-volume <nm3>",
      "remove objects below this volume (default: the preset's)",
      numberArg("--min-volume", { min: 0 }),
    )
    .option("--no-fill-holes", "keep enclosed holes")
    .option("--mask-by <array>", "keep only voxels inside (or outside) this class")
    .addOption(
      new Option("--mask-mode <mode>", "inside or outside (default inside)").choices(["inside", "outside"]),
    )
    .option("--keep <ids>", "keep only these ids (as numbered by this run)", idList("--keep"))
    .option("--remove <ids>", "remove these ids", idList("--remove"))
    .addOption(new Option("--connectivity <n>", "6, 18 or 26 (default 6)").choices(["6", "18", "26"]))
    .option("--split", "split over-merged objects: seeded watershed inside each object, then agglomeration")
    .addOption(
      new Option(
        "--seeds <source>",
        "--split seeds: maxima of the distance transform or of the smoothed prediction (default distance)",
      ).choices(["distance", "prediction"]),
    )
    .option(
      "--min-seed-distance <nm>",
      "--split: seeds at least this far apart (default: the preset's smallest diameter, else 100)",
      numberArg("--min-seed-distance", { min: 0 }),
    )
    .option(
      "--seed-threshold <v>",
      "--split: lowest seed value, nm of distance or a probability (default 0)",
      numberArg("--seed-threshold", { min: 0 }),
    )
    .option(
      "--merge-quantile <q>",
      "--split: quantile of the boundary values between two fragments (default 0.5)",
      numberArg("--merge-quantile", { min: 0, max: 1 }),
    )
    .option(
      "--merge-threshold <v>",
      "--split: fragments merge when that quantile, divided by the smaller fragment peak, is above this (default 0.25; 0.5 for prediction seeds)",
      numberArg("--merge-threshold", { min: 0 }),
    )
    .option(
      "--block <voxels>",
      "write-block edge in voxels, whole chunks (default 256)",
      numberArg("--block", { integer: true, min: 1 }),
    )
    .addOption(workersOption())
    .option("--overwrite", "replace an existing output")
    .option("--no-pyramid", "write only s0")
    .action(async (dataset: string, o: RefineFlags) => {
      const r = await runRefine(dataset, {
        input: o.input,
        organelle: o.organelle,
        output: o.output,
        sigma: o.sigma,
        threshold: o.threshold,
        minVolume: o.minVolume,
        fillHoles: o.fillHoles,
        maskBy: o.maskBy,
        maskMode: o.maskMode,
        keep: o.keep,
        remove: o.remove,
        connectivity: o.connectivity ? (Number(o.connectivity) as Connectivity) : undefined,
        split: o.split,
        seeds: o.seeds,
        minSeedDistance: o.minSeedDistance,
        seedThreshold: o.seedThreshold,
        mergeQuantile: o.mergeQuantile,
        mergeThreshold: o.mergeThreshold,
        blockVoxels: o.block,
        workers: o.workers,
        overwrite: o.overwrite,
        pyramid: o.pyramid,
      });
      const lines = [
        `${r.output}: ${r.kept} objects (of ${r.objects} components), ${r.levels} scale level${r.levels === 1 ? "" : "s"}, ${r.seconds.toFixed(1)} s`,
        ...r.stages.map((s) =>
          s.stage.op === "fillHoles"
            ? `  filled ${s.changed} holes (${s.voxels.toLocaleString("en-US")} voxels)`
            : `  removed ${s.changed} of ${s.found} objects below ${r.minVolume.toLocaleString("en-US")} nm^3 (${r.minVoxels} voxels)`,
        ),
        ...(r.split
          ? [
              `  split ${r.split.split} object${r.split.split === 1 ? "" : "s"} into ${r.split.split + r.split.added} pieces (${r.split.fragments} watershed fragments, seeds ${r.split.params.seeds} >= ${r.split.params.minSeedDistance} nm apart); ${r.kept + r.split.added} objects`,
            ]
          : []),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
