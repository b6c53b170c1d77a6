import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { validateVoxelSize } from "../core/voxel-size.ts";
import type { Block, BlockwiseTaskSpec } from "./types.ts";

/** More blocks than this is almost surely a block shape given in voxels where nm were meant. */
const MAX_BLOCKS = 50_000_000;
const FITS = ["shrink", "overhang", "valid"] as const;

/**
 * Checks a whole task spec before anything runs, so a bad request fails at once with one line that
 * names the task and the offending field instead of failing at the first block.
 */
export function validateSpec(spec: BlockwiseTaskSpec): void {
  const name = typeof spec?.name === "string" && spec.name.trim() !== "" ? spec.name : undefined;
  if (name === undefined) throw invalidArgument("block-wise task: a non-empty task name is required");
  const bad = (what: string) => invalidArgument(`task '${name}': ${what}`);
  if (!(spec.totalWriteRoi instanceof Roi)) throw bad("totalWriteRoi must be a Roi (world units, nm)");
  if (spec.totalWriteRoi.empty) {
    throw bad(`totalWriteRoi ${spec.totalWriteRoi} is empty; there is nothing to write`);
  }
  if (!isTriple(spec.blockShape) || !spec.blockShape.every((v) => Number.isFinite(v) && v > 0)) {
    throw bad(`block shape ${show(spec.blockShape)} must be three positive numbers of nm (z,y,x)`);
  }
  if (!isTriple(spec.context) || !spec.context.every((v) => Number.isFinite(v) && v >= 0)) {
    throw bad(`context ${show(spec.context)} must be three numbers >= 0 of nm (z,y,x)`);
  }
  if (spec.fit !== undefined && !FITS.includes(spec.fit)) {
    throw bad(`fit '${String(spec.fit)}' must be one of ${FITS.join(", ")}`);
  }
  if (spec.voxelSize !== undefined) {
    const vs = validateVoxelSize(spec.voxelSize, `task '${name}': voxel size`);
    const check = (what: string, v: Coordinate) => {
      if (!isMultipleOf(v, vs)) {
        throw bad(`${what} ${format(v)} nm is not a multiple of the voxel size ${format(vs)} nm`);
      }
    };
    check("block shape", spec.blockShape);
    check("context", spec.context);
    check("totalWriteRoi shape", spec.totalWriteRoi.shape);
  }
  const grid = gridShape(spec);
  if (grid.some((n) => n === 0)) {
    throw bad(
      `no block of shape ${format(spec.blockShape)} nm fits completely in ${spec.totalWriteRoi} (fit 'valid')`,
    );
  }
  const count = grid[0] * grid[1] * grid[2];
  if (count > MAX_BLOCKS) {
    throw bad(
      `block shape ${format(spec.blockShape)} nm gives ${count} blocks (limit ${MAX_BLOCKS}); block shapes are in nm, not voxels`,
    );
  }
}

/** Number of blocks along z,y,x for a valid spec. */
export function blockGridShape(spec: BlockwiseTaskSpec): Coordinate {
  validateSpec(spec);
  return gridShape(spec);
}

/**
 * Tiles `totalWriteRoi` with write blocks of `blockShape` starting at its offset, in row-major order
 * (x fastest); each block's id is its row-major grid index, so ids are the same on every run and in
 * every worker. The read ROI is the write ROI grown by `context` on every side and may extend past
 * the data.
 */
export function planBlocks(spec: BlockwiseTaskSpec): Block[] {
  validateSpec(spec);
  const grid = gridShape(spec);
  const fit = spec.fit ?? "shrink";
  const total = spec.totalWriteRoi;
  const bs = spec.blockShape;
  const blocks: Block[] = [];
  let id = 0;
  for (let z = 0; z < grid[0]; z++) {
    for (let y = 0; y < grid[1]; y++) {
      for (let x = 0; x < grid[2]; x++) {
        const offset = coord(
          total.offset[0] + z * bs[0],
          total.offset[1] + y * bs[1],
          total.offset[2] + x * bs[2],
        );
        let writeRoi = new Roi(offset, bs);
        if (fit === "shrink") writeRoi = writeRoi.intersect(total);
        blocks.push(
          Object.freeze({ id, index: coord(z, y, x), writeRoi, readRoi: writeRoi.grow(spec.context) }),
        );
        id++;
      }
    }
  }
  return blocks;
}

function gridShape(spec: BlockwiseTaskSpec): Coordinate {
  const round = spec.fit === "valid" ? Math.floor : Math.ceil;
  const n = (d: number) => {
    const q = spec.totalWriteRoi.shape[d]! / spec.blockShape[d]!;
    // Shapes in nm are often fractional (e.g. 5.2 nm voxels); 1e-9 absorbs their rounding error.
    const r = Math.round(q);
    return Math.abs(q - r) < 1e-9 ? r : round(q);
  };
  return coord(n(0), n(1), n(2));
}

function isTriple(v: unknown): v is Coordinate {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number");
}

function isMultipleOf(v: Coordinate, grid: Coordinate): boolean {
  return [0, 1, 2].every((d) => {
    const q = v[d]! / grid[d]!;
    return Math.abs(q - Math.round(q)) < 1e-6;
  });
}

function show(v: unknown): string {
  return Array.isArray(v) ? `(${v.join(", ")})` : String(v);
}
