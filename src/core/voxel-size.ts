import { type Coordinate, coord, format } from "./coordinate.ts";
import { invalidArgument } from "./errors.ts";

/** Voxel sizes outside this range (in nm) are almost certainly unit mistakes (um or m instead of nm). */
export const MIN_VOXEL_NM = 0.01;
export const MAX_VOXEL_NM = 100_000;

export function validateVoxelSize(v: Coordinate, what = "voxel size"): Coordinate {
  for (const s of v) {
    if (!Number.isFinite(s) || s <= 0)
      throw invalidArgument(`${what} ${format(v)}: every value must be a positive number of nm`);
    if (s < MIN_VOXEL_NM || s > MAX_VOXEL_NM) {
      throw invalidArgument(
        `${what} ${format(v)}: values are in nm and must lie within ${MIN_VOXEL_NM}..${MAX_VOXEL_NM} (did you give um or m?)`,
      );
    }
  }
  return coord(v[0], v[1], v[2]);
}
