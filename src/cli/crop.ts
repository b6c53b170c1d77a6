import type { Command } from "commander";
import { coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { parseRoi, type Roi, type VoxelBox } from "../core/roi.ts";
import { cropDataset } from "../preprocess/crop.ts";
import { positiveInt, workersOption } from "./args.ts";

/** "z,y,x:dz,dy,dx" in whole voxels. */
export function parseVoxelBox(text: string, what: string): VoxelBox {
  const m = /^\s*([^:]+):([^:]+)\s*$/.exec(text);
  const nums = (s: string) => s.split(",").map((p) => Number(p.trim()));
  const b = m ? nums(m[1]!) : [];
  const s = m ? nums(m[2]!) : [];
  if (
    b.length !== 3 ||
    s.length !== 3 ||
    !b.every((v) => Number.isInteger(v) && v >= 0) ||
    !s.every((v) => Number.isInteger(v) && v >= 1)
  ) {
    throw invalidArgument(`${what} '${text}': expected voxels 'z,y,x:dz,dy,dx' (offset >= 0 : shape >= 1)`);
  }
  return { begin: coord(b[0]!, b[1]!, b[2]!), shape: coord(s[0]!, s[1]!, s[2]!) };
}

interface CropFlags {
  roi?: Roi;
  voxels?: VoxelBox;
  arrays?: string[];
  block?: number;
  workers?: number;
  overwrite?: boolean;
}

/** `organelle crop DATASET OUT --roi ...`: a dataset restricted to a ROI, remembering the crop. */
export function registerCrop(program: Command): void {
  program
    .command("crop")
    .description(
      "copy a dataset's arrays (all, or --arrays) restricted to a ROI into a new dataset, each on its own voxel grid, pyramids rebuilt; the crop is recorded like an import crop, so 'organelle export' puts outputs back into the original frame; resumable, OUT appears only when complete",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .argument("<out>", "new dataset, e.g. cell-crop.zarr")
    .option("--roi <z,y,x:dz,dy,dx>", "ROI in nm (offset:shape, world coordinates)", (v: string) =>
      parseRoi(v, "--roi"),
    )
    .option("--voxels <z,y,x:dz,dy,dx>", "ROI in voxels of raw (offset:shape)", (v: string) =>
      parseVoxelBox(v, "--voxels"),
    )
    .option("--arrays <list>", "arrays to copy, comma-separated (default: all)", (v: string) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .option(
      "--block <voxels>",
      "write-block edge in voxels, whole chunks (default 256)",
      positiveInt("--block"),
    )
    .addOption(workersOption())
    .option("--overwrite", "replace OUT (and discard an interrupted OUT.partial)")
    .action(async (dataset: string, out: string, o: CropFlags) => {
      const r = await cropDataset(dataset, out, {
        roi: o.roi,
        voxels: o.voxels,
        arrays: o.arrays,
        blockVoxels: o.block,
        workers: o.workers,
        overwrite: o.overwrite,
      });
      const lines = [`${out}: crop ${r.roi} of ${dataset}, ${r.seconds.toFixed(1)} s`];
      for (const a of r.arrays) {
        lines.push(
          `  ${a.path}  ${a.shape.join(" x ")} voxels, ${a.levels} scale level${a.levels === 1 ? "" : "s"}`,
        );
      }
      for (const s of r.skipped) lines.push(`  ${s}  not copied (outside the ROI)`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
