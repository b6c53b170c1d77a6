import * as path from "node:path";
import type { Command } from "commander";
import { recordCsvTable } from "../analyze/results.ts";
import { runSkeleton } from "../analyze/skeleton.ts";
import { invalidArgument } from "../core/errors.ts";
import { numberArg, workersOption } from "./args.ts";

interface SkeletonFlags {
  organelle: string;
  input?: string;
  prune?: number;
  scales?: string;
  out?: string;
  array?: string;
  table?: string;
  remeasure?: boolean;
  block?: number;
  workers?: number;
  overwrite?: boolean;
}

function parseScales(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const v = text.split(",").map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((x) => !(x > 0 && Number.isFinite(x)))) {
    throw invalidArgument(`--scales ${text}: expected comma-separated sigmas in nm > 0, e.g. 10,20,40`);
  }
  return v;
}

/** `organelle skeleton DATASET --organelle mito|er`: skeleton lengths and ER planarity. */
export function registerSkeleton(program: Command): void {
  program
    .command("skeleton")
    .description(
      "topological thinning (Lee 1994, as skimage's skeletonize_3d) of each instance, whole from its bounding box. mito: curve skeleton as a graph, branches shorter than --prune nm removed, length = longest shortest path (nm), mean/sd radius from the distance transform; tables/mito_skeleton.csv and analysis/mito_skeleton (skeleton voxels with their ids). er: medial surface, planarity (0..1) from the Hessian eigenvalues of the multi-scale Gaussian-smoothed mask at each medial-surface voxel, planar if >= 0.6; tables/er_planarity.csv, the class's planar fraction, and analysis/er_planarity (uint8: 0 outside the medial surface, else 1 + 254 x planarity). Bounding boxes come from tables/<name>.csv (organelle measure, run first when missing). Both tables are recorded in the catalogue.",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .requiredOption("--organelle <name>", "mito (curve skeletons) or er (medial surfaces and planarity)")
    .option("--input <array>", "instance array (default segmentations/<organelle>)")
    .option(
      "--prune <nm>",
      "mito: remove end branches shorter than this (default 80)",
      numberArg("--prune", { min: 0 }),
    )
    .option("--scales <nm,...>", "er: Gaussian sigmas of the planarity in nm (default 10,15,20,30,40)")
    .option(
      "--out <csv>",
      "table path in the dataset (default tables/mito_skeleton.csv or tables/er_planarity.csv)",
    )
    .option("--array <path>", "output array (default analysis/mito_skeleton or analysis/er_planarity)")
    .option("--table <path>", "measure table with the bounding boxes (default tables/<name>.csv)")
    .option("--remeasure", "measure the input again even when its table exists")
    .option(
      "--block <voxels>",
      "block edge of the array write, whole chunks (default 256)",
      numberArg("--block", { integer: true, min: 1 }),
    )
    .addOption(workersOption())
    .option("--overwrite", "replace an existing output array")
    .action(async (dataset: string, o: SkeletonFlags) => {
      if (o.organelle !== "mito" && o.organelle !== "er") {
        throw invalidArgument(
          `--organelle ${o.organelle}: expected mito (curve skeletons) or er (medial surfaces)`,
        );
      }
      const r = await runSkeleton(dataset, {
        organelle: o.organelle,
        input: o.input,
        prune: o.prune,
        scales: parseScales(o.scales),
        out: o.out,
        array: o.array,
        table: o.table,
        remeasure: o.remeasure,
        blockVoxels: o.block,
        workers: o.workers,
        overwrite: o.overwrite,
      });
      const recorded = await recordCsvTable(dataset, path.basename(r.csvPath, ".csv"), r.csvPath, {
        array: r.input,
      });
      const where = `  array: ${r.array}\n  table: ${r.csvPath} (${r.seconds.toFixed(1)} s)${recorded.catalog ? `, catalogue ${recorded.catalog}` : ""}\n`;
      const first = r.measured ? " (measured first)" : "";
      if (r.organelle === "mito") {
        const lengths = r.rows.map((x) => x.length).sort((a, b) => a - b);
        const med = lengths.length ? lengths[Math.floor((lengths.length - 1) / 2)]! : 0;
        const total = lengths.reduce((s, v) => s + v, 0);
        process.stdout.write(
          `${r.input}: ${r.rows.length} skeletons${first}, total length ${(total / 1000).toFixed(2)} um, median ${med.toFixed(0)} nm\n${where}`,
        );
      } else {
        process.stdout.write(
          `${r.input}: ${r.rows.length} objects${first}, ${(100 * r.planarFraction).toFixed(1)} % planar (of ${r.medialVoxels} medial-surface voxels, planarity >= 0.6; sigmas ${r.scales.join(", ")} nm)\n${where}`,
        );
      }
    });
}
