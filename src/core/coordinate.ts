import { invalidArgument } from "./errors.ts";

/**
 * An immutable 3D coordinate in z,y,x order. Used for world positions/extents (nm) and for voxel
 * indices alike; which one a value is follows from where it comes from (Roi is always world units).
 */
export type Coordinate = readonly [number, number, number];

export function coord(z: number, y: number, x: number): Coordinate {
  return Object.freeze([z, y, x]) as Coordinate;
}

export function coordFrom(values: readonly number[], what = "coordinate"): Coordinate {
  if (values.length !== 3) throw invalidArgument(`${what} needs 3 values (z,y,x), got ${values.length}`);
  return coord(values[0]!, values[1]!, values[2]!);
}

export function uniform(v: number): Coordinate {
  return coord(v, v, v);
}

export const add = (a: Coordinate, b: Coordinate): Coordinate => coord(a[0] + b[0], a[1] + b[1], a[2] + b[2]);
export const sub = (a: Coordinate, b: Coordinate): Coordinate => coord(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
export const mul = (a: Coordinate, b: Coordinate): Coordinate => coord(a[0] * b[0], a[1] * b[1], a[2] * b[2]);
export const div = (a: Coordinate, b: Coordinate): Coordinate => coord(a[0] / b[0], a[1] / b[1], a[2] / b[2]);
export const min = (a: Coordinate, b: Coordinate): Coordinate =>
  coord(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.min(a[2], b[2]));
export const max = (a: Coordinate, b: Coordinate): Coordinate =>
  coord(Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.max(a[2], b[2]));
export const scale = (a: Coordinate, s: number): Coordinate => coord(a[0] * s, a[1] * s, a[2] * s);
export const equals = (a: Coordinate, b: Coordinate): boolean =>
  a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
export const product = (a: Coordinate): number => a[0] * a[1] * a[2];
export const isInteger = (a: Coordinate): boolean => a.every((v) => Number.isInteger(v));
export const format = (a: Coordinate): string => `(${a[0]}, ${a[1]}, ${a[2]})`;

/**
 * Parses "5" (isotropic) or "5,4,4" (z,y,x) into a coordinate; `what` names the argument in errors.
 */
export function parseCoordinate(
  text: string,
  what: string,
  opts: { positive?: boolean; integer?: boolean; allowScalar?: boolean } = {},
): Coordinate {
  const parts = text
    .split(/[,x ]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const allowScalar = opts.allowScalar ?? true;
  if (!(parts.length === 3 || (allowScalar && parts.length === 1))) {
    throw invalidArgument(
      `${what}: expected ${allowScalar ? "one number or " : ""}three numbers z,y,x, got '${text}'`,
    );
  }
  const nums = parts.map((p) => Number(p));
  for (const n of nums) {
    if (!Number.isFinite(n)) throw invalidArgument(`${what}: '${text}' is not a list of numbers`);
    if (opts.positive && !(n > 0)) throw invalidArgument(`${what}: values must be > 0, got '${text}'`);
    if (opts.integer && !Number.isInteger(n))
      throw invalidArgument(`${what}: values must be integers, got '${text}'`);
  }
  return nums.length === 1 ? uniform(nums[0]!) : coordFrom(nums, what);
}
