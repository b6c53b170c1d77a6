import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { UNetSpec } from "./unet-spec.ts";

/*
 * Shape arithmetic of a valid-padding U-Net (unet-spec.ts), per axis (every operation is separable):
 * a convolution of kernel k removes k-1 voxels, max-pooling by f needs a size divisible by f and divides
 * it, upsampling multiplies by f, and the skip connection is centre-cropped to the upsampled size with
 * offset floor((skip - up) / 2) — what the engine does.
 *
 * An input size is valid when every pooled size divides exactly, every size stays >= 1, and every skip
 * crop lands exactly on the voxels the upsampled path came from (so tiles predicted separately agree:
 * translation equivariance). Valid sizes along an axis form one residue class modulo the product P of
 * that axis's downsampling factors, from the smallest valid size up: n0, n0 + P, n0 + 2P, ...; the
 * output grows by P with the input, and the context (input - output) is the same for all of them.
 *
 * Positions are tracked as the centre of a tensor's first voxel, in input voxels: a convolution moves
 * it by (k-1)/2 voxels of the current spacing, pooling by (f-1)/2, upsampling back by the same.
 */

export interface AxisShape {
  readonly input: number;
  readonly output: number;
  /** Input voxels before the first output voxel (the centre of output voxel 0 sits on input voxel `before`). */
  readonly before: number;
  readonly after: number;
  /** Sizes along the way: after each level's convolutions on the way down (the skip sizes) and the bottom. */
  readonly levels: readonly number[];
}

export interface NetworkShape {
  readonly input: Coordinate;
  readonly output: Coordinate;
  /** Context per side in input voxels: input = before + output + after. */
  readonly contextBefore: Coordinate;
  readonly contextAfter: Coordinate;
}

/** Why `n` is not a valid input along `axis` (undefined when it is), or the shape. */
function axisShape(spec: UNetSpec, axis: number, n: number): AxisShape | string {
  if (!Number.isInteger(n) || n < 1) return `size ${n} is not a whole number >= 1`;
  const L = spec.downsample.length;
  let size = n;
  let centre = 0;
  let spacing = 1;
  const skips: number[] = [];
  const skipCentres: number[] = [];
  const conv = (k: number, where: string): string | undefined => {
    size -= k - 1;
    centre += ((k - 1) / 2) * spacing;
    if (size < 1) return `the convolutions of ${where} leave no voxels`;
    return undefined;
  };
  for (let i = 0; i < L; i++) {
    for (const k of spec.kernels[i]!) {
      const err = conv(k[axis]!, `level ${i}`);
      if (err) return err;
    }
    const f = spec.downsample[i]![axis]!;
    if (size % f !== 0) return `level ${i} has ${size} voxels, not divisible by its downsampling factor ${f}`;
    skips.push(size);
    skipCentres.push(centre);
    centre += ((f - 1) / 2) * spacing;
    spacing *= f;
    size /= f;
  }
  for (const k of spec.kernels[L]!) {
    const err = conv(k[axis]!, "the bottom level");
    if (err) return err;
  }
  const levels = [...skips, size];
  for (let i = L - 1; i >= 0; i--) {
    const f = spec.downsample[i]![axis]!;
    spacing /= f;
    centre -= ((f - 1) / 2) * spacing;
    size *= f;
    const skip = skips[i]!;
    if (skip < size)
      return `level ${i}: the skip connection (${skip}) is smaller than the upsampled path (${size})`;
    const crop = Math.floor((skip - size) / 2);
    const exact = (centre - skipCentres[i]!) / spacing;
    if (Math.abs(exact - crop) > 1e-9) {
      return `level ${i}: the centre crop of the skip connection is misaligned by ${exact - crop} voxels`;
    }
    for (const k of spec.kernels[i]!) {
      const err = conv(k[axis]!, `level ${i} (up)`);
      if (err) return err;
    }
  }
  const err = conv(spec.headKernel[axis]!, "the head");
  if (err) return err;
  const before = Math.round(centre);
  return { input: n, output: size, before, after: n - size - before, levels };
}

const AXES = ["z", "y", "x"] as const;

/** Why `input` is not a valid input shape (undefined when it is). */
export function inputShapeProblem(spec: UNetSpec, input: Coordinate): string | undefined {
  for (let d = 0; d < 3; d++) {
    const r = axisShape(spec, d, input[d]!);
    if (typeof r === "string") return `axis ${AXES[d]}: ${r}`;
  }
  return undefined;
}

export function isValidInput(spec: UNetSpec, input: Coordinate): boolean {
  return inputShapeProblem(spec, input) === undefined;
}

/** Output shape and context of a valid input shape; an invalid one is an error naming the axis, the level and the nearest valid sizes. */
export function networkShape(spec: UNetSpec, input: Coordinate): NetworkShape {
  const axes: AxisShape[] = [];
  for (let d = 0; d < 3; d++) {
    const r = axisShape(spec, d, input[d]!);
    if (typeof r === "string") {
      const lo = validSizeAtMost(spec, d, input[d]!);
      const hi = validSizeAtLeast(spec, d, input[d]!);
      throw invalidArgument(
        `input shape ${format(input)} is not valid for this network: axis ${AXES[d]}: ${r}; nearest valid sizes along ${AXES[d]}: ${lo === undefined ? "" : `${lo} or `}${hi}`,
      );
    }
    axes.push(r);
  }
  const c = (f: (a: AxisShape) => number) => coord(f(axes[0]!), f(axes[1]!), f(axes[2]!));
  return {
    input: c((a) => a.input),
    output: c((a) => a.output),
    contextBefore: c((a) => a.before),
    contextAfter: c((a) => a.after),
  };
}

export function outputShape(spec: UNetSpec, input: Coordinate): Coordinate {
  return networkShape(spec, input).output;
}

/** Product of the downsampling factors per axis: the step between valid input sizes. */
export function inputStep(spec: UNetSpec): Coordinate {
  const p = [1, 1, 1];
  for (const f of spec.downsample) for (let d = 0; d < 3; d++) p[d]! *= f[d]!;
  return coord(p[0]!, p[1]!, p[2]!);
}

const SEARCH_LIMIT = 100_000;

function smallestAxis(spec: UNetSpec, axis: number): number {
  for (let n = 1; n <= SEARCH_LIMIT; n++) if (typeof axisShape(spec, axis, n) !== "string") return n;
  throw invalidArgument(
    `this network has no valid input size along ${AXES[axis]} up to ${SEARCH_LIMIT} voxels`,
  );
}

function validSizeAtLeast(spec: UNetSpec, axis: number, n: number): number {
  const n0 = smallestAxis(spec, axis);
  if (n <= n0) return n0;
  const p = inputStep(spec)[axis]!;
  return n0 + Math.ceil((n - n0) / p) * p;
}

function validSizeAtMost(spec: UNetSpec, axis: number, n: number): number | undefined {
  const n0 = smallestAxis(spec, axis);
  if (n < n0) return undefined;
  const p = inputStep(spec)[axis]!;
  return n0 + Math.floor((n - n0) / p) * p;
}

/** The smallest valid input shape. */
export function smallestValidInput(spec: UNetSpec): Coordinate {
  return coord(smallestAxis(spec, 0), smallestAxis(spec, 1), smallestAxis(spec, 2));
}

/** The valid input shape nearest to `requested`, per axis at least (`up`) or at most (`down`) it. */
export function nearestValidInput(spec: UNetSpec, requested: Coordinate, dir: "up" | "down"): Coordinate {
  const v = [0, 1, 2].map((d) => {
    const r = Math.round(requested[d]!);
    if (dir === "up") return validSizeAtLeast(spec, d, r);
    const lo = validSizeAtMost(spec, d, r);
    if (lo === undefined) {
      throw invalidArgument(
        `input shape ${format(requested)}: no valid size along ${AXES[d]} is <= ${r}; the smallest is ${smallestAxis(spec, d)}`,
      );
    }
    return lo;
  });
  return coord(v[0]!, v[1]!, v[2]!);
}

/** The valid input whose output is the smallest output >= `output` (per axis). */
export function inputForOutput(spec: UNetSpec, output: Coordinate): NetworkShape {
  const s0 = networkShape(spec, smallestValidInput(spec));
  const p = inputStep(spec);
  const v = [0, 1, 2].map((d) => {
    const extra = Math.max(0, Math.ceil((output[d]! - s0.output[d]!) / p[d]!));
    return s0.input[d]! + extra * p[d]!;
  });
  return networkShape(spec, coord(v[0]!, v[1]!, v[2]!));
}

/**
 * The block shape for inference: the largest valid input within `maxInput` voxels per axis (memory), and
 * what it produces. Tiles of this input step by its output and overlap by the context.
 */
export function inferenceShape(spec: UNetSpec, maxInput: Coordinate): NetworkShape {
  return networkShape(spec, nearestValidInput(spec, maxInput, "down"));
}
