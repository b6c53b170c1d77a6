import * as path from "node:path";
import type { Command } from "commander";
import { runPores } from "../analyze/pores.ts";
import { recordCsvTable } from "../analyze/results.ts";
import { invalidArgument } from "../core/errors.ts";
import { numberArg, positiveInt } from "./args.ts";

interface PoresFlags {
  pores?: string;
  nucleus: string | boolean;
  raw?: string;
  search?: [number, number];
  polarity: "dark" | "bright";
  ksSd?: number;
  minVoxels?: number;
  table?: string;
}

function range(v: string): [number, number] {
  const p = v.split(",").map((s) => Number(s.trim()));
  if (p.length !== 2 || !p.every(Number.isFinite)) {
    throw invalidArgument(`--search '${v}': give MIN,MAX radii in nm, e.g. 15,100`);
  }
  return [p[0]!, p[1]!];
}

const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "n/a" : v.toFixed(1));
const p3 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "n/a" : v.toPrecision(3));

/** `organelle pores DATASET`: ASEM's nuclear pore diameters and their distribution. */
export function registerPores(program: Command): void {
  program
    .command("pores")
    .description(
      "nuclear pore diameters as ASEM measured them: per pore instance the centroid, the envelope's normal (plane fit to the nucleus label's surface around it), the raw image resampled across that normal, and the median of 18 radial membrane peak-to-peak distances 10 degrees apart; writes tables/nuclear_pores.csv and a summary (median, percentiles, Shapiro-Wilk, Kolmogorov-Smirnov against a normal at the median with sd 6 nm), both also in the catalogue",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .option("--pores <array>", "pore instances (default labels/nuclear_pore)")
    .option("--nucleus <array>", "nucleus label for the envelope plane (default labels/nucleus if present)")
    .option("--no-nucleus", "use each pore's own thinnest axis as the envelope normal")
    .option("--raw <array>", "raw image (default raw)")
    .option("--search <min,max>", "radii (nm) searched for the membrane on each side (default 15,100)", range)
    .option("--polarity <dark|bright>", "membranes are dark (default) or bright in the raw image", "dark")
    .option(
      "--ks-sd <nm>",
      "sd of the normal the KS test compares with (default 6)",
      numberArg("--ks-sd", { min: 0 }),
    )
    .option("--min-voxels <n>", "leave out pores with fewer voxels (default 5)", positiveInt("--min-voxels"))
    .option("--table <path>", "CSV path in the dataset (default tables/nuclear_pores.csv)")
    .action(async (dataset: string, o: PoresFlags) => {
      if (o.polarity !== "dark" && o.polarity !== "bright") {
        throw invalidArgument(`--polarity '${o.polarity}': choose dark or bright`);
      }
      const r = await runPores(dataset, {
        pores: o.pores,
        nucleus: o.nucleus === false ? null : typeof o.nucleus === "string" ? o.nucleus : undefined,
        raw: o.raw,
        search: o.search,
        polarity: o.polarity,
        ksSd: o.ksSd,
        minVoxels: o.minVoxels,
        table: o.table,
      });
      const pores = o.pores ?? "labels/nuclear_pore";
      // The per-pore table's first column is the pore id: the viewer's segment look-up reads it.
      const recorded = await recordCsvTable(dataset, path.basename(r.csvPath, ".csv"), r.csvPath, {
        array: pores,
      });
      await recordCsvTable(dataset, path.basename(r.summaryPath, ".csv"), r.summaryPath);
      const s = r.summary;
      const lines = [
        `${pores}: ${s.count} pores, ${s.measured} measured; diameter median ${f1(s.median)} nm (10-90 %: ${f1(s.p10)}-${f1(s.p90)}, range ${f1(s.min)}-${f1(s.max)}), mean ${f1(s.mean)} +- ${f1(s.sd)} nm`,
        `  Shapiro-Wilk W ${p3(s.shapiro?.statistic)}, p ${p3(s.shapiro?.pValue)}; KS vs N(${f1(s.ks?.mean)}, ${f1(s.ks?.sd)}) D ${p3(s.ks?.statistic)}, p ${p3(s.ks?.pValue)}`,
        `  table: ${r.csvPath}, summary: ${r.summaryPath} (${r.seconds.toFixed(1)} s)${recorded.catalog ? `, catalogue ${recorded.catalog}` : ""}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
