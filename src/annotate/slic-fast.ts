import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { checkVolume } from "../ops/volume3d.ts";
import {
  cellOf,
  centreSums,
  finishSupervoxels,
  type GreyVolume,
  gridCentres,
  moveCentres,
  regularGrid,
  type Supervoxels,
  slicParams,
} from "./slic.ts";

/**
 * Fast 3D SLIC for the annotator: Achanta et al.'s original algorithm rather than skimage's variant.
 *
 * - Each centre searches +-S (S = its grid step per axis), so a voxel is compared with about 8 centres
 *   per pass instead of skimage's 64 (+-2S): the 2S x 2S x 2S windows of neighbouring centres overlap
 *   by half, which is enough for every voxel to meet the centres it can belong to.
 * - Grey values and distances in float32 (the grey scaling is skimage's: [0, 1] then / compactness, so
 *   `compactness` means the same in both modes); centres start at the grey of their voxel (skimage
 *   starts them at 0, which wastes the first pass).
 * - Passes stop early when no centre moved more than `tolerance` voxels (Achanta's residual error).
 * - A row of a centre's window is skipped when its spatial term alone exceeds the largest distance any
 *   voxel of that row had to its centre in the previous pass (and rows are clipped to the x range that
 *   can still win), an upper-bound test that never changes the result but skips most of the window
 *   once the partition has settled.
 * - Voxels that no window reaches in a pass keep their previous label.
 * - Connectivity is enforced exactly as in the skimage-exact mode (`enforceConnectivity`).
 *
 * The labels differ from skimage's voxel for voxel; what is kept is the statistics (count, size
 * distribution, boundary recall, undersegmentation error; see slic-fast.test.ts).
 */

export interface FastSlicOptions {
  nSegments?: number;
  compactness?: number;
  /** Most passes (default 10). */
  iterations?: number;
  /** Stop when no centre moved more than this many voxels in a pass (default 0.5; 0 = run all passes). */
  tolerance?: number;
  spacing?: Coordinate;
  enforceConnectivity?: boolean;
  minSizeFactor?: number;
  maxSizeFactor?: number;
}

export const FAST_SLIC_DEFAULTS = { tolerance: 0.5 } as const;

export interface FastSlicResult extends Supervoxels {
  /** Passes run (<= iterations). */
  readonly passes: number;
  /** Milliseconds: grey scaling, k-means passes, connectivity. */
  readonly timings: { readonly prepare: number; readonly passes: number; readonly connectivity: number };
}

/** SLIC supervoxels, fast mode (see the module comment). */
export function slicFast(
  image: GreyVolume,
  shape: Coordinate,
  options: FastSlicOptions = {},
): FastSlicResult {
  const t0 = performance.now();
  const n = checkVolume(image, shape, "slic");
  const { nSegments, compactness, iterations, minSizeFactor, maxSizeFactor, spacing } = slicParams(options);
  const tolerance = options.tolerance ?? FAST_SLIC_DEFAULTS.tolerance;
  if (!(tolerance >= 0)) throw invalidArgument(`slic: tolerance must be >= 0 voxels, got ${tolerance}`);
  const [sz, sy, sx] = spacing;
  const [d, h, w] = shape;

  const grey = scaledGrey(image, compactness);

  const { g0, nz, ny, nx, k, cz, cy, cx, cg } = gridCentres(shape, nSegments);
  // centres start at the grey of their voxel
  for (let c = 0; c < k; c++) cg[c] = grey[(cz[c]! * h + cy[c]!) * w + cx[c]!]!;
  const step = Math.max(g0.step[0], g0.step[1], g0.step[2]);
  const spatialWeight = 1 / (step * step);
  const win = regularGrid(shape, k).step;
  // Squared spacing pre-multiplied by the spatial weight: the spatial term is wz dz^2 + wy dy^2 + wx dx^2.
  const wz = sz * sz * spatialWeight;
  const wy = sy * sy * spatialWeight;
  const wx = sx * sx * spatialWeight;

  const labels = new Int32Array(n);
  const distance = new Float32Array(n);
  const rowBound = new Float64Array(d * h);
  // Search window per centre: z, y, x begin (inclusive) and end (exclusive), 6 values per centre.
  const box = new Int32Array(6 * k);
  initialLabels(grey, shape, g0, nz, ny, nx, cz, cy, cx, cg, wz, wy, wx, labels, rowBound);
  const t1 = performance.now();

  const sums = centreSums(k);
  let passes = 0;
  for (let it = 0; it < iterations; it++) {
    passes++;
    distance.fill(Number.POSITIVE_INFINITY);
    windows(cz, cy, cx, win, shape, box);
    for (let s = 0; s < k; s++) {
      const z0 = cz[s]!;
      const y0 = cy[s]!;
      const x0 = cx[s]!;
      const gs = cg[s]!;
      const zMin = box[6 * s]!;
      const zMax = box[6 * s + 1]!;
      const yMin = box[6 * s + 2]!;
      const yMax = box[6 * s + 3]!;
      const xMin = box[6 * s + 4]!;
      const xMax = box[6 * s + 5]!;
      for (let z = zMin; z < zMax; z++) {
        const dz = wz * (z0 - z) * (z0 - z);
        for (let y = yMin; y < yMax; y++) {
          const row = z * h + y;
          const base = dz + wy * (y0 - y) * (y0 - y);
          const bound = rowBound[row]!;
          if (base > bound) continue;
          const reach = Math.sqrt((bound - base) / wx) + 1;
          const xa = Math.max(xMin, Math.floor(x0 - reach));
          const xb = Math.min(xMax, Math.ceil(x0 + reach) + 1);
          const off = row * w;
          for (let x = xa; x < xb; x++) {
            const t = grey[off + x]! - gs;
            const dist = base + wx * (x0 - x) * (x0 - x) + t * t;
            if (dist < distance[off + x]!) {
              distance[off + x] = dist;
              labels[off + x] = s;
            }
          }
        }
      }
    }
    const moved = moveCentres(labels, grey, shape, sums, cz, cy, cx, cg);
    if (moved <= tolerance || it === iterations - 1) break;
    windows(cz, cy, cx, win, shape, box);
    nextBounds(grey, shape, cz, cy, cx, cg, box, wz, wy, wx, labels, rowBound);
  }
  const t2 = performance.now();

  const result = finishSupervoxels(
    labels,
    shape,
    k,
    options.enforceConnectivity,
    minSizeFactor,
    maxSizeFactor,
  );
  const t3 = performance.now();
  return { ...result, passes, timings: { prepare: t1 - t0, passes: t2 - t1, connectivity: t3 - t2 } };
}

/** skimage's grey scaling (img_as_float, min/max rescale, / compactness) in float32. */
function scaledGrey(image: GreyVolume, compactness: number): Float32Array {
  const n = image.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = image[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const grey = new Float32Array(n);
  const scale = hi > lo ? 1 / ((hi - lo) * compactness) : 0;
  for (let i = 0; i < n; i++) grey[i] = (image[i]! - lo) * scale;
  return grey;
}

/** Labels of the grid cells and, per row, the largest distance of a voxel to its cell's centre. */
function initialLabels(
  grey: Float32Array,
  shape: Coordinate,
  g: { start: Coordinate; step: Coordinate },
  nz: number,
  ny: number,
  nx: number,
  cz: Float64Array,
  cy: Float64Array,
  cx: Float64Array,
  cg: Float64Array,
  wz: number,
  wy: number,
  wx: number,
  labels: Int32Array,
  rowBound: Float64Array,
): void {
  const [d, h, w] = shape;
  const cellX = new Int32Array(w);
  for (let x = 0; x < w; x++) cellX[x] = cellOf(x, g.start[2], g.step[2], nx);
  for (let z = 0; z < d; z++) {
    const iz = cellOf(z, g.start[0], g.step[0], nz);
    for (let y = 0; y < h; y++) {
      const iy = cellOf(y, g.start[1], g.step[1], ny);
      const first = (iz * ny + iy) * nx;
      const off = (z * h + y) * w;
      let bound = 0;
      for (let x = 0; x < w; x++) {
        const s = first + cellX[x]!;
        labels[off + x] = s;
        const t = grey[off + x]! - cg[s]!;
        const a = z - cz[s]!;
        const b = y - cy[s]!;
        const c = x - cx[s]!;
        const dist = wz * a * a + wy * b * b + wx * c * c + t * t;
        if (dist > bound) bound = dist;
      }
      // float32 distances are compared against this bound: leave room for their rounding
      rowBound[z * h + y] = bound * (1 + 1e-5) + 1e-12;
    }
  }
}

/** The +-win search box of every centre, clipped to the volume (begin inclusive, end exclusive). */
function windows(
  cz: Float64Array,
  cy: Float64Array,
  cx: Float64Array,
  win: Coordinate,
  shape: Coordinate,
  box: Int32Array,
): void {
  const [d, h, w] = shape;
  for (let s = 0; s < cz.length; s++) {
    box[6 * s] = Math.max(0, Math.floor(cz[s]! - win[0]));
    box[6 * s + 1] = Math.min(d, Math.ceil(cz[s]! + win[0]) + 1);
    box[6 * s + 2] = Math.max(0, Math.floor(cy[s]! - win[1]));
    box[6 * s + 3] = Math.min(h, Math.ceil(cy[s]! + win[1]) + 1);
    box[6 * s + 4] = Math.max(0, Math.floor(cx[s]! - win[2]));
    box[6 * s + 5] = Math.min(w, Math.ceil(cx[s]! + win[2]) + 1);
  }
}

/** Per row, the largest distance of a voxel to its current centre, or infinity when that centre's window misses it. */
function nextBounds(
  grey: Float32Array,
  shape: Coordinate,
  cz: Float64Array,
  cy: Float64Array,
  cx: Float64Array,
  cg: Float64Array,
  box: Int32Array,
  wz: number,
  wy: number,
  wx: number,
  labels: Int32Array,
  rowBound: Float64Array,
): void {
  const [d, h, w] = shape;
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      const off = (z * h + y) * w;
      let bound = 0;
      for (let x = 0; x < w; x++) {
        const s = labels[off + x]!;
        const b6 = 6 * s;
        if (
          z < box[b6]! ||
          z >= box[b6 + 1]! ||
          y < box[b6 + 2]! ||
          y >= box[b6 + 3]! ||
          x < box[b6 + 4]! ||
          x >= box[b6 + 5]!
        ) {
          bound = Number.POSITIVE_INFINITY;
          break;
        }
        const a = z - cz[s]!;
        const b = y - cy[s]!;
        const c = x - cx[s]!;
        const t = grey[off + x]! - cg[s]!;
        const dist = wz * a * a + wy * b * b + wx * c * c + t * t;
        if (dist > bound) bound = dist;
      }
      rowBound[z * h + y] = bound * (1 + 1e-5) + 1e-12;
    }
  }
}
