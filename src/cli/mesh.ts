import type { Command } from "commander";
import { runMesh } from "../analyze/mesh.ts";
import { numberArg, workersOption } from "./args.ts";

interface MeshFlags {
  ply?: string;
  glb?: string;
  glbScene?: string;
  color?: string;
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
      "per-instance surface meshes (marching cubes of the 3x3x3-averaged mask, the surface measure reports; optional vertex-clustering simplification) as neuroglancer precomputed legacy meshes in <dataset>/meshes/<name>/ with segment properties (label, volume, surface area from tables/<name>.csv, measured first when missing), binary PLY files with --ply, binary glTF 2.0 per instance with --glb and one glTF scene per class (a node per id) with --glb-scene. Objects are meshed whole from their bounding boxes, in parallel.",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .argument("<array>", "instance array, e.g. segmentations/mito")
    .option("--ply <dir>", "also write <id>.ply (binary little-endian) into this directory")
    .option("--glb <dir>", "also write <id>.glb (binary glTF 2.0, positions in nm) into this directory")
    .option("--glb-scene <file>", "also write every object as one glTF scene, a node named by each id")
    .option("--color <#rrggbb>", "glTF material colour (default: the organelle's display colour)")
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
        `${array}: ${r.meshes.length} meshes, ${tris} triangles${r.measured ? " (measured first)" : ""}\n  neuroglancer: ${r.dir}\n${r.plyDir ? `  ply: ${r.plyDir}\n` : ""}${r.glbDir ? `  glb: ${r.glbDir}\n` : ""}${r.glbScene ? `  glb scene: ${r.glbScene}\n` : ""}  (${r.seconds.toFixed(1)} s)\n`,
      );
    });
}
