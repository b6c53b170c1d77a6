import { type Command, Option } from "commander";
import { type Coordinate, parseCoordinate } from "../core/coordinate.ts";
import { importStack } from "../store/import.ts";
import type { Compressor, OmeVersion } from "../store/volume.ts";
import { numberArg, workersOption } from "./args.ts";

function coordinate(what: string, opts: { integer?: boolean; allowScalar?: boolean } = {}) {
  return (v: string): Coordinate => parseCoordinate(v, what, opts);
}

interface ImportFlags {
  voxelSize?: Coordinate;
  invert?: boolean;
  cropOffset?: Coordinate;
  cropShape?: Coordinate;
  chunks?: Coordinate;
  compressor?: Compressor;
  level?: number;
  format?: OmeVersion;
  pattern?: string;
  overwrite?: boolean;
  pyramid: boolean;
  workers?: number;
}

/** `organelle import SRC OUT.zarr`: a stack of TIFF/PNG slices or a multi-page TIFF -> OUT.zarr/raw. */
export function registerImport(program: Command): void {
  program
    .command("import")
    .description(
      "import a directory of 2D TIFF/PNG slices or a multi-page TIFF (8- or 16-bit greyscale) as raw of a dataset: chunked, compressed, with a pyramid; streams slice by slice; an interrupted import resumes when run again",
    )
    .argument("<src>", "directory of slices (natural sort of file names) or a multi-page .tif")
    .argument("<out>", "dataset to create, e.g. cell.zarr")
    .option(
      "--voxel-size <z,y,x>",
      "voxel size in nm (one number if isotropic); required unless the TIFF metadata records it (organelle or ImageJ)",
      coordinate("--voxel-size"),
    )
    .option("--invert", "store max - value (for stacks with bright membranes)")
    .option(
      "--crop-offset <z,y,x>",
      "first voxel of the part to import, in voxels of the source stack",
      coordinate("--crop-offset", { integer: true, allowScalar: false }),
    )
    .option(
      "--crop-shape <z,y,x>",
      "size of the part to import in voxels (default: to the end of the stack)",
      coordinate("--crop-shape", { integer: true, allowScalar: false }),
    )
    .option(
      "--chunks <z,y,x>",
      "chunk shape (default 128); z is also the slab of slices read at once",
      coordinate("--chunks", { integer: true }),
    )
    .addOption(
      new Option("--compressor <name>", "chunk compression")
        .choices(["zstd", "blosc", "gzip", "none"])
        .default("zstd"),
    )
    .option(
      "--level <n>",
      "compression level (zstd 1-22, default 3; blosc/gzip 1-9)",
      numberArg("--level", { integer: true }),
    )
    .addOption(
      new Option("--format <version>", "OME-Zarr version (0.4 = Zarr v2, 0.5 = Zarr v3)")
        .choices(["0.4", "0.5"])
        .default("0.4"),
    )
    .option(
      "--pattern <regex>",
      "regular expression for file names with one capture group for the slice number",
    )
    .option("--overwrite", "replace OUT if it exists (and discard an interrupted OUT.partial)")
    .option("--no-pyramid", "write only the full-resolution level s0")
    .addOption(workersOption())
    .action(async (src: string, out: string, o: ImportFlags) => {
      const r = await importStack(src, out, {
        voxelSize: o.voxelSize,
        invert: o.invert,
        cropOffset: o.cropOffset,
        cropShape: o.cropShape,
        chunks: o.chunks,
        compressor: o.compressor,
        level: o.level,
        format: o.format,
        pattern: o.pattern,
        overwrite: o.overwrite,
        pyramid: o.pyramid,
        workers: o.workers,
      });
      const mb = r.bytes / 1e6;
      const resumed =
        r.resumedSlabs > 0 ? ` (resumed: ${r.resumedSlabs} of ${r.slabs} slabs were already written)` : "";
      process.stdout.write(
        `${out}/raw: ${r.shape.join(" x ")} voxels (z,y,x) ${r.dtype} @ ${r.voxelSize.join(" x ")} nm (from ${r.voxelSizeFrom}), chunks ${r.chunks.join(" x ")}, ${r.pyramidLevels} scale level${r.pyramidLevels === 1 ? "" : "s"}${resumed}\n` +
          `  s0: ${mb.toFixed(1)} MB in ${r.writeSeconds.toFixed(1)} s (${(mb / Math.max(r.writeSeconds, 1e-9)).toFixed(1)} MB/s); total ${r.seconds.toFixed(1)} s\n`,
      );
    });
}
