import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelArray } from "./dtype.ts";

/*
 * Pyramid kernels. Output voxel o covers the input window [o*f, min((o+1)*f, n)) per axis, so an odd
 * size gives a last window that is cut short (output size ceil(n/f)); only voxels inside the input
 * count, there is no padding.
 *
 * mean: the average of the window's voxels; integer types round half up (floor(mean + 0.5)), float
 *       types keep the average. With factors 1 or 2 the voxel count is a power of two, so the float64
 *       division is exact and every implementation that sums in float64 agrees bit for bit.
 * mode: the most frequent value in the window; a tie goes to the smallest value. 0 (background) is a
 *       value like any other, so a structure thinner than the window may vanish at coarse levels.
 */

export type DownsampleMethod = "mean" | "mode";

export function downsampledShape(shape: Coordinate, factor: Coordinate): [number, number, number] {
  return [Math.ceil(shape[0] / factor[0]), Math.ceil(shape[1] / factor[1]), Math.ceil(shape[2] / factor[2])];
}

function checkArgs(src: VoxelArray, srcShape: Coordinate, factor: Coordinate, dst: VoxelArray): void {
  if (!factor.every((f) => Number.isInteger(f) && f >= 1)) {
    throw invalidArgument(`downsampling factor ${factor.join(",")} must be integers >= 1`);
  }
  const [dz, dy, dx] = downsampledShape(srcShape, factor);
  if (src.length !== srcShape[0] * srcShape[1] * srcShape[2] || dst.length !== dz * dy * dx) {
    throw invalidArgument(
      `downsampling: array lengths ${src.length} -> ${dst.length} do not match shape ${srcShape.join(",")} / ${factor.join(",")}`,
    );
  }
}

/** Averages `factor` windows of `src` (C-order, `srcShape`) into `dst`. */
export function downsampleMean(
  src: VoxelArray,
  srcShape: Coordinate,
  factor: Coordinate,
  dst: VoxelArray,
): void {
  checkArgs(src, srcShape, factor, dst);
  if (src instanceof BigUint64Array || dst instanceof BigUint64Array) {
    throw invalidArgument(
      "mean downsampling of uint64 data is not supported; uint64 arrays are labels (mode)",
    );
  }
  const [sz, sy, sx] = srcShape;
  const [dz, dy, dx] = downsampledShape(srcShape, factor);
  const [fz, fy, fx] = factor;
  const integer = !(dst instanceof Float32Array || dst instanceof Float64Array);
  // One output row at a time: add the window's input rows into `acc`, then divide.
  const acc = new Float64Array(dx);
  const pairs = sx >> 1;
  let o = 0;
  for (let z = 0; z < dz; z++) {
    const z0 = z * fz;
    const nz = Math.min(fz, sz - z0);
    for (let y = 0; y < dy; y++) {
      const y0 = y * fy;
      const ny = Math.min(fy, sy - y0);
      acc.fill(0);
      for (let a = 0; a < nz; a++) {
        for (let b = 0; b < ny; b++) {
          const base = ((z0 + a) * sy + y0 + b) * sx;
          if (fx === 2) {
            for (let x = 0, i = base; x < pairs; x++, i += 2)
              acc[x]! += (src[i] as number) + (src[i + 1] as number);
            if (sx & 1) acc[dx - 1]! += src[base + sx - 1] as number;
          } else if (fx === 1) {
            for (let x = 0; x < sx; x++) acc[x]! += src[base + x] as number;
          } else {
            for (let x = 0; x < sx; x++) acc[Math.floor(x / fx)]! += src[base + x] as number;
          }
        }
      }
      const nzy = nz * ny;
      for (let x = 0; x < dx; x++) {
        const m = acc[x]! / (nzy * Math.min(fx, sx - x * fx));
        dst[o++] = integer ? Math.floor(m + 0.5) : m;
      }
    }
  }
}

/** The most frequent value of each window (ties: the smallest value). */
export function downsampleMode(
  src: VoxelArray,
  srcShape: Coordinate,
  factor: Coordinate,
  dst: VoxelArray,
): void {
  checkArgs(src, srcShape, factor, dst);
  const [sz, sy, sx] = srcShape;
  const [dz, dy, dx] = downsampledShape(srcShape, factor);
  const [fz, fy, fx] = factor;
  const plane = sy * sx;
  // Window values, reused for every output voxel (same element type as the input).
  const win = new (src.constructor as new (n: number) => VoxelArray)(fz * fy * fx);
  let o = 0;
  for (let z = 0; z < dz; z++) {
    const z0 = z * fz;
    const z1 = Math.min(z0 + fz, sz);
    for (let y = 0; y < dy; y++) {
      const y0 = y * fy;
      const y1 = Math.min(y0 + fy, sy);
      for (let x = 0; x < dx; x++) {
        const x0 = x * fx;
        const x1 = Math.min(x0 + fx, sx);
        let n = 0;
        for (let zz = z0; zz < z1; zz++)
          for (let yy = y0; yy < y1; yy++) {
            const base = zz * plane + yy * sx;
            for (let xx = x0; xx < x1; xx++) win[n++] = src[base + xx]!;
          }
        dst[o++] = modeOf(win, n);
      }
    }
  }
}

/** Mode of the first n values; ties -> smallest. n is at most 8 for factor 2, so quadratic is fastest. */
function modeOf(v: VoxelArray, n: number): number & bigint {
  const first = v[0]!;
  let uniform = true;
  for (let i = 1; i < n && uniform; i++) uniform = v[i] === first;
  // Label volumes are mostly uniform windows (background, organelle interiors).
  if (uniform) return first as number & bigint;
  let best = first;
  let bestCount = 0;
  // Count each distinct value once, at its first occurrence (later ones were counted with it).
  for (let i = 0; i < n && bestCount * 2 <= n; i++) {
    const a = v[i]!;
    let seen = false;
    for (let j = 0; j < i && !seen; j++) seen = v[j] === a;
    if (seen) continue;
    let c = 1;
    for (let j = i + 1; j < n; j++) if (v[j] === a) c++;
    if (c > bestCount || (c === bestCount && a < best)) {
      best = a;
      bestCount = c;
    }
  }
  return best as number & bigint;
}

export function downsample(
  method: DownsampleMethod,
  src: VoxelArray,
  srcShape: Coordinate,
  factor: Coordinate,
  dst: VoxelArray,
): void {
  if (method === "mean") downsampleMean(src, srcShape, factor, dst);
  else downsampleMode(src, srcShape, factor, dst);
}
