import type { Command } from "commander";
import { runMesh } from "../analyze/mesh.ts";
import { numberArg, workersOption } from "./args.ts";

interface MeshFlags {
  ply?: string;
  simplify?: number;
  table?: string;
  remeasure?: boolean;
  output?: string;
  workers?: number;
}

/** `organelle mesh DATASET ARRAY`: per-instance meshes for neuroglancer and other tools. */
export function registerMesh(program: Command): void {
  program
    .command("mesh")
    .description(
      "per-instance surface meshes (marching cubes of the 3x3x3-averaged mask, the surface measure reports; optional vertex-clustering simplification) as neuroglancer precomputed legacy meshes in <dataset>/meshes/<name>/ with segment properties (label, volume, surface area from tables/<name>.csv, measured first when missing), and binary PLY files with --ply. Objects are meshed whole from their bounding boxes, in parallel.",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .argument("<array>", "instance array, e.g. segmentations/mito")
    .option("--ply <dir>", "also write <id>.ply (binary little-endian) into this directory")
    .option(
      "--simplify <nm>",
      "vertex-clustering cell in nm (default 0: none)",
      numberArg("--simplify", { min: 0 }),
    )
    .option("--table <path>", "measure table in the dataset (default tables/<name>.csv)")
    .option("--remeasure", "measure the array again even when the table exists")
    .option("--output <dir>", "mesh directory in the dataset (default meshes/<name>)")
    .addOption(workersOption())
    .action(async (dataset: string, array: string, o: MeshFlags) => {
      const r = await runMesh(dataset, array, { ...o });
      const tris = r.meshes.reduce((s, m) => s + m.triangles, 0);
      process.stdout.write(
        `${array}: ${r.meshes.length} meshes, ${tris} triangles${r.measured ? " (measured first)" : ""}\n  neuroglancer: ${r.dir}\n${r.plyDir ? `  ply: ${r.plyDir}\n` : ""}  (${r.seconds.toFixed(1)} s)\n`,
      );
    });
}
