import type { Command } from "commander";
import { runReport } from "../analyze/report.ts";

interface ReportFlags {
  out: string;
  title?: string;
}

/** `organelle report DATASET... --out report.html`: the result tables of one or more cells as one HTML page. */
export function registerReport(program: Command): void {
  program
    .command("report")
    .description(
      "an HTML report (self-contained: inline CSS and SVG plots) of the result tables in each dataset's tables/: dataset metadata, per organelle class the count, total volume, fraction of the cell and median size, size histograms, volume fractions and counts as bar charts, contact sites, and every other table (skeleton lengths, planarity, pores, pits, evaluations). Several datasets side by side.",
    )
    .argument("<datasets...>", "dataset containers, e.g. cell.zarr (run organelle measure / contacts first)")
    .option("--out <file>", "HTML file to write", "report.html")
    .option("--title <text>", "page title (default: the dataset names)")
    .action(async (datasets: string[], o: ReportFlags) => {
      const r = await runReport(datasets, { out: o.out, title: o.title });
      process.stdout.write(
        `report of ${r.datasets} dataset${r.datasets === 1 ? "" : "s"} (${r.tables} tables): ${r.out} (${(r.bytes / 1024).toFixed(0)} KiB)\n`,
      );
    });
}
