import { type Coordinate, coord, uniform } from "../../src/core/coordinate.ts";
import type { VoxelBox } from "../../src/core/roi.ts";
import type { VoxelArray } from "../../src/store/dtype.ts";
import { Volume } from "../../src/store/volume.ts";
import { organelle } from "./cli.ts";

/**
 * The synthetic cells the end-to-end tests share. The defaults are the small cell most of them use
 * (20 nm voxels, 1.6 µm across = 80^3 voxels, 32^3 chunks, seed 4), which runs in seconds.
 */

export interface SynthCellOptions {
  voxelSize?: number;
  sizeUm?: number;
  seed?: number;
  /** Comma-separated organelle list; synth's default set when absent. */
  organelles?: string;
  /** Further synth arguments (e.g. ["--workers", "1"]). */
  extra?: string[];
}

/** `organelle synth ds` with the options; throws with synth's stderr when it fails. */
export function synthCell(ds: string, opts: SynthCellOptions = {}): void {
  const args = [
    "synth",
    ds,
    "--voxel-size",
    String(opts.voxelSize ?? 20),
    "--size-um",
    String(opts.sizeUm ?? 1.6),
  ];
  args.push("--chunks", "32", "--seed", String(opts.seed ?? 4));
  if (opts.organelles !== undefined) args.push("--organelles", opts.organelles);
  args.push(...(opts.extra ?? []));
  const r = organelle(args);
  if (r.code !== 0) throw new Error(`organelle ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
}

/** The whole array (its s0), with the opened volume. */
export async function readArray(ds: string, array: string): Promise<{ v: Volume; data: VoxelArray }> {
  const v = await Volume.open(ds, array);
  return { v, data: await v.readBox({ begin: uniform(0), shape: v.meta.shape }) };
}

/** A side^3 voxel box centred on the centroid of the non-zero voxels of `all` (C-order), kept inside it. */
export function boxAroundLabels(all: VoxelArray, shape: Coordinate, side: number): VoxelBox {
  const [d, h, w] = shape;
  const sum = [0, 0, 0];
  let n = 0;
  for (let z = 0, i = 0; z < d; z++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++, i++)
        if (all[i]) {
          sum[0]! += z;
          sum[1]! += y;
          sum[2]! += x;
          n++;
        }
  if (n === 0) throw new Error("boxAroundLabels: the label array is empty");
  const begin = sum.map((s, a) => Math.max(0, Math.min(shape[a]! - side, Math.round(s / n - side / 2))));
  return { begin: coord(begin[0]!, begin[1]!, begin[2]!), shape: uniform(side) };
}

/**
 * `organelle refine` arguments that keep exact synthetic mito labels as they are (no smoothing, no size
 * filter), block-wise on 32^3 blocks with two workers.
 */
export function refineExactArgs(ds: string, input: string, ...extra: string[]): string[] {
  return ["refine", ds, "--input", input, "--organelle", "mito", "--sigma", "0", "--min-volume", "0"].concat(
    ["--block", "32", "--workers", "2"],
    extra,
  );
}

/** How many elements differ (-1 when the lengths do). */
export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
