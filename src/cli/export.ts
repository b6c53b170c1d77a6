import { type Command, Option } from "commander";
import { type ExportLayout, exportTiff } from "../store/export.ts";

interface ExportFlags {
  array: string;
  layout?: ExportLayout;
  uncrop?: boolean;
  invert?: boolean;
  overwrite?: boolean;
}

/** `organelle export DATASET OUT`: an array as TIFF slices or one multi-page TIFF. */
export function registerExport(program: Command): void {
  program
    .command("export")
    .description(
      "export an array of a dataset as TIFF (uncompressed greyscale): one file per slice or one multi-page file (BigTIFF above 4 GiB); arrays imported with a crop are put back into the original stack's frame",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .argument("<out>", "directory of slices, or a .tif file for a multi-page TIFF")
    .option("--array <path>", "array in the dataset, e.g. raw or labels/mito", "raw")
    .addOption(
      new Option(
        "--layout <layout>",
        "slices: one file per slice; multipage: one file (default: multipage if OUT ends in .tif)",
      ).choices(["slices", "multipage"]),
    )
    .option(
      "--uncrop",
      "place the data into the original stack's frame, zeros outside (default when imported with a crop)",
    )
    .option("--no-uncrop", "export the array's own extent")
    .option("--invert", "write max - value")
    .option("--overwrite", "replace OUT if it exists")
    .action(async (dataset: string, out: string, o: ExportFlags) => {
      const r = await exportTiff(dataset, out, {
        array: o.array,
        layout: o.layout,
        uncrop: o.uncrop,
        invert: o.invert,
        overwrite: o.overwrite,
      });
      const what =
        r.layout === "multipage"
          ? `one ${r.bigTiff ? "BigTIFF" : "TIFF"} of ${r.shape[0]} pages`
          : `${r.files} slice files`;
      process.stdout.write(
        `${out}: ${what}, ${r.shape.join(" x ")} voxels (z,y,x) ${r.dtype}${r.uncropped ? ", in the original stack's frame" : ""}; ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(1)} s\n`,
      );
    });
}
