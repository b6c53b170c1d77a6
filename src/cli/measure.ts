import * as path from "node:path";
import type { Command } from "commander";
import { QUANTILES, runMeasure } from "../analyze/measure.ts";
import { recordCsvTable, updateClassSummary } from "../analyze/results.ts";
import { positiveInt, workersOption } from "./args.ts";

interface MeasureFlags {
  cellMask: string | boolean;
  table?: string;
  block?: number;
  workers?: number;
}

const sci = (v: number) => v.toExponential(3);

/** `organelle measure DATASET ARRAY`: per-instance table (COSEM columns) and per-class summary. */
export function registerMeasure(program: Command): void {
  program
    .command("measure")
    .description(
      "per-instance volume (nm^3), surface area (nm^2: marching cubes of the 3x3x3-averaged mask; also the voxel-face area COSEM used and the binary marching-cubes area), centre of mass and bounding box (nm) of a label array, as COSEM's CSV in tables/<organelle>.csv and in the catalogue; the per-class row (count, volumes, fraction of the cell) goes to tables/classes.csv; prints count, total volume, fraction of the cell (masks/cell) and volume quantiles. Block-wise, equal to the whole-volume computation.",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .argument("<array>", "instance array, e.g. segmentations/mito or labels/mito")
    .option("--cell-mask <array>", "cell mask for the volume fraction (default masks/cell if present)")
    .option("--no-cell-mask", "no volume fraction")
    .option("--table <path>", "CSV path in the dataset (default tables/<organelle>.csv)")
    .option("--block <voxels>", "block edge in voxels, whole chunks (default 256)", positiveInt("--block"))
    .addOption(workersOption())
    .action(async (dataset: string, array: string, o: MeasureFlags) => {
      const r = await runMeasure(dataset, array, {
        cellMask: o.cellMask === false ? null : typeof o.cellMask === "string" ? o.cellMask : undefined,
        table: o.table,
        blockVoxels: o.block,
        workers: o.workers,
      });
      const s = r.summary;
      const table = path.basename(r.csvPath, ".csv");
      const recorded = await recordCsvTable(dataset, table, r.csvPath, { array });
      await updateClassSummary(dataset, array, s, table);
      const lines = [
        `${array}: ${s.count} objects, total volume ${sci(s.totalVolume)} nm^3${s.cellFraction !== undefined ? `, ${(100 * s.cellFraction).toFixed(2)} % of ${r.cellMask} (${sci(s.cellVolume ?? 0)} nm^3)` : ""}`,
        `  volume quantiles (nm^3) ${QUANTILES.map((q, i) => `${q * 100}%: ${sci(s.volumeQuantiles[i]!)}`).join(", ")}`,
        `  table: ${r.csvPath} (${r.seconds.toFixed(1)} s)${recorded.catalog ? `, catalogue ${recorded.catalog}` : ""}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
