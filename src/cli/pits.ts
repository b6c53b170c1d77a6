import * as path from "node:path";
import type { Command } from "commander";
import { runPits } from "../analyze/pits.ts";
import { recordCsvTable } from "../analyze/results.ts";
import { invalidArgument } from "../core/errors.ts";
import { numberArg, positiveInt } from "./args.ts";

interface PitsFlags {
  objects?: string;
  mask?: string;
  distance?: number;
  touch?: number;
  caveola?: [number, number];
  minVoxels?: number;
  table?: string;
}

function pair(v: string): [number, number] {
  const p = v.split(",").map((s) => Number(s.trim()));
  if (p.length !== 2 || !p.every((x) => Number.isFinite(x) && x >= 0)) {
    throw invalidArgument(`--caveola '${v}': give WIDTH,DEPTH in nm, e.g. 90,80`);
  }
  return [p[0]!, p[1]!];
}

const f1 = (v: number) => (Number.isNaN(v) ? "n/a" : v.toFixed(1));

/** `organelle pits DATASET`: ASEM's clathrin-coated pit and vesicle measurements. */
export function registerPits(program: Command): void {
  program
    .command("pits")
    .description(
      "clathrin-coated pits and vesicles as ASEM analysed them: each instance classified by its distance to the plasma membrane (the cell mask's boundary): touching = pit (caveola when small), within 400 nm = endocytic vesicle, farther = secretory; depth, width at half depth and neck of each pit's cavity, ellipse-fit axes and eccentricity (major/minor); writes tables/coated_pits.csv (also in the catalogue)",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .option("--objects <array>", "coated-structure instances (default labels/ccp)")
    .option("--mask <array>", "cell mask whose boundary is the plasma membrane (default masks/cell)")
    .option(
      "--distance <nm>",
      "endocytic/secretory cut from the membrane (default 400)",
      numberArg("--distance", { min: 0 }),
    )
    .option(
      "--touch <nm>",
      "objects this close touch the membrane: pits (default 20)",
      numberArg("--touch", { min: 0 }),
    )
    .option(
      "--caveola <width,depth>",
      "pits at most this wide at half depth and deep (nm) are caveolae (default 90,80)",
      pair,
    )
    .option(
      "--min-voxels <n>",
      "leave out objects with fewer voxels (default 5)",
      positiveInt("--min-voxels"),
    )
    .option("--table <path>", "CSV path in the dataset (default tables/coated_pits.csv)")
    .action(async (dataset: string, o: PitsFlags) => {
      const r = await runPits(dataset, {
        objects: o.objects,
        mask: o.mask,
        distance: o.distance,
        touch: o.touch,
        caveola: o.caveola,
        minVoxels: o.minVoxels,
        table: o.table,
      });
      const objects = o.objects ?? "labels/ccp";
      // The table's first column is the object id: the viewer's segment look-up reads it.
      const recorded = await recordCsvTable(dataset, path.basename(r.csvPath, ".csv"), r.csvPath, {
        array: objects,
      });
      const s = r.summary;
      const c = s.counts;
      const lines = [
        `${objects}: ${r.rows.length} objects: ${c.pit} pits, ${c.caveola} caveolae, ${c.vesicle} endocytic vesicles (<= ${o.distance ?? 400} nm), ${c.secretory} secretory`,
        `  pits: depth median ${f1(s.pitDepth)} nm (IQR ${f1(s.depthQuartiles[0])}-${f1(s.depthQuartiles[1])}), width at half depth median ${f1(s.pitWidth)} nm (IQR ${f1(s.widthQuartiles[0])}-${f1(s.widthQuartiles[1])}); eccentricity median ${Number.isNaN(s.eccentricity) ? "n/a" : s.eccentricity.toFixed(2)}`,
        `  table: ${r.csvPath} (${r.seconds.toFixed(1)} s)${recorded.catalog ? `, catalogue ${recorded.catalog}` : ""}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
