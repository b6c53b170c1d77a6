import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { checkVolume, voxelSizeOrUnit } from "../ops/volume3d.ts";

/**
 * 3D SLIC supervoxels on grey values, following skimage.segmentation.slic(image, n_segments,
 * compactness, max_num_iter, spacing, channel_axis=None, enforce_connectivity=True, start_label=0)
 * (skimage 0.19): the grey values are rescaled to [0, 1] and divided by the compactness; centres start
 * on skimage's regular_grid; a voxel joins the centre k minimising
 *   ((sz dz)^2 + (sy dy)^2 + (sx dx)^2) / S^2 + (g - g_k)^2
 * among the centres whose window of +-2 grid steps contains it (S = the largest grid step, in voxels);
 * every iteration reassigns all voxels and moves each centre to the mean position and grey value of its
 * voxels; finally disconnected fragments are relabelled like skimage's
 * `_enforce_label_connectivity_cython` (6-connected flood fill in scan order, pieces smaller than
 * min_size_factor x mean size join the last labelled neighbour seen, fills stop at max_size_factor x mean
 * size).
 *
 * The one departure is speed, not the result: a centre skips the rows and the parts of rows of its window
 * where the spatial term alone already exceeds the largest distance any voxel of that row has to the
 * centre it held in the previous pass (an upper bound on its final distance in this pass). Candidates so
 * skipped could never win, so labels equal the exhaustive search. Grey scaling, distances and centre sums
 * are the same float64 operations in the same order as skimage's, so on uint8/uint16 input the labels are
 * skimage's voxel for voxel (the fixtures in test/fixtures/graphcut check this); float32 input is computed
 * in float64 here (skimage stays in float32), which can move ties.
 */

export interface SlicOptions {
  /** Approximate number of supervoxels (skimage n_segments). Default 4,000 (gc_segment). */
  nSegments?: number;
  /** Weight of space against grey value; higher = more cubic supervoxels. Default 25 (gc_segment). */
  compactness?: number;
  /** k-means iterations (skimage max_num_iter). Default 10. */
  iterations?: number;
  /** Voxel spacing z,y,x (nm or any unit; only ratios matter). Default isotropic. */
  spacing?: Coordinate;
  /** Relabel disconnected fragments (default true). */
  enforceConnectivity?: boolean;
  /** Fragments smaller than this x the mean supervoxel size merge into a neighbour. Default 0.5. */
  minSizeFactor?: number;
  /** Flood fills stop at this x the mean supervoxel size (skimage's max_size_factor). Default 3. */
  maxSizeFactor?: number;
}

export const SLIC_DEFAULTS = {
  nSegments: 4000,
  compactness: 25,
  iterations: 10,
  minSizeFactor: 0.5,
  maxSizeFactor: 3,
} as const;

export interface Supervoxels {
  /** Supervoxel id per voxel, 0..count-1, C order z,y,x. */
  readonly labels: Int32Array;
  readonly count: number;
  readonly shape: Coordinate;
}

export type GreyVolume = Uint8Array | Uint16Array | Float32Array | Float64Array;

/** skimage.util.regular_grid: start and step per axis for about `n` points on a grid over `shape`. */
export function regularGrid(shape: Coordinate, n: number): { start: Coordinate; step: Coordinate } {
  const total = shape[0] * shape[1] * shape[2];
  if (total <= n) return { start: coord(0, 0, 0), step: coord(1, 1, 1) };
  const order = [0, 1, 2].sort((a, b) => shape[a]! - shape[b]! || a - b);
  const sorted = order.map((i) => shape[i]!);
  const steps = [0, 0, 0].map(() => (total / n) ** (1 / 3));
  if (sorted.some((d, i) => d < steps[i]!)) {
    for (let dim = 0; dim < 3; dim++) {
      steps[dim] = sorted[dim]!;
      let rest = 1;
      for (let j = dim + 1; j < 3; j++) rest *= sorted[j]!;
      for (let j = dim + 1; j < 3; j++) steps[j] = (rest / n) ** (1 / (3 - dim - 1));
      if (sorted.every((d, i) => d >= steps[i]!)) break;
    }
  }
  const start = [0, 0, 0];
  const step = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const axis = order[i]!;
    start[axis] = Math.floor(steps[i]! / 2);
    // numpy rounds half to even
    step[axis] = roundHalfEven(steps[i]!);
  }
  return { start: coord(start[0]!, start[1]!, start[2]!), step: coord(step[0]!, step[1]!, step[2]!) };
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function gridCount(size: number, start: number, step: number): number {
  return start >= size ? 0 : Math.floor((size - 1 - start) / step) + 1;
}

/** The grid cell (0..cells-1) of voxel coordinate `v` on a grid of `start` and `step`. */
export function cellOf(v: number, start: number, step: number, cells: number): number {
  return Math.min(cells - 1, Math.max(0, Math.round((v - start) / step)));
}

/** The options both SLIC modes share, defaulted and checked. */
export function slicParams(options: SlicOptions) {
  const nSegments = options.nSegments ?? SLIC_DEFAULTS.nSegments;
  const compactness = options.compactness ?? SLIC_DEFAULTS.compactness;
  const iterations = options.iterations ?? SLIC_DEFAULTS.iterations;
  const minSizeFactor = options.minSizeFactor ?? SLIC_DEFAULTS.minSizeFactor;
  const maxSizeFactor = options.maxSizeFactor ?? SLIC_DEFAULTS.maxSizeFactor;
  if (!Number.isInteger(nSegments) || nSegments < 1)
    throw invalidArgument(`slic: nSegments must be a whole number >= 1, got ${nSegments}`);
  if (!(compactness > 0)) throw invalidArgument(`slic: compactness must be > 0, got ${compactness}`);
  if (!Number.isInteger(iterations) || iterations < 1)
    throw invalidArgument(`slic: iterations must be a whole number >= 1, got ${iterations}`);
  if (!(minSizeFactor >= 0) || !(maxSizeFactor > 0))
    throw invalidArgument(`slic: size factors must be >= 0 (min) and > 0 (max)`);
  const spacing = voxelSizeOrUnit(options.spacing, "slic spacing");
  return { nSegments, compactness, iterations, minSizeFactor, maxSizeFactor, spacing };
}

/** Centres (position z,y,x and grey, grey 0) on skimage's regular grid of about `nSegments` points. */
export function gridCentres(shape: Coordinate, nSegments: number) {
  const g0 = regularGrid(shape, nSegments);
  const nz = gridCount(shape[0], g0.start[0], g0.step[0]);
  const ny = gridCount(shape[1], g0.start[1], g0.step[1]);
  const nx = gridCount(shape[2], g0.start[2], g0.step[2]);
  const k = nz * ny * nx;
  const cz = new Float64Array(k);
  const cy = new Float64Array(k);
  const cx = new Float64Array(k);
  const cg = new Float64Array(k);
  for (let iz = 0, c = 0; iz < nz; iz++) {
    for (let iy = 0; iy < ny; iy++) {
      for (let ix = 0; ix < nx; ix++, c++) {
        cz[c] = g0.start[0] + iz * g0.step[0];
        cy[c] = g0.start[1] + iy * g0.step[1];
        cx[c] = g0.start[2] + ix * g0.step[2];
      }
    }
  }
  return { g0, nz, ny, nx, k, cz, cy, cx, cg };
}

/** Per-centre voxel count and sums of z, y, x and grey, for moving the centres to their means. */
export interface CentreSums {
  readonly count: Float64Array;
  readonly sumZ: Float64Array;
  readonly sumY: Float64Array;
  readonly sumX: Float64Array;
  readonly sumG: Float64Array;
}

export function centreSums(k: number): CentreSums {
  const a = () => new Float64Array(k);
  return { count: a(), sumZ: a(), sumY: a(), sumX: a(), sumG: a() };
}

/**
 * Moves every centre that holds voxels to the mean position and grey of its voxels (in scan order, the
 * same float64 sums as skimage); an empty centre keeps its place. Returns the largest move in voxels.
 */
export function moveCentres(
  labels: Int32Array,
  grey: Float32Array | Float64Array,
  shape: Coordinate,
  sums: CentreSums,
  cz: Float64Array,
  cy: Float64Array,
  cx: Float64Array,
  cg: Float64Array,
): number {
  const [d, h, w] = shape;
  const { count, sumZ, sumY, sumX, sumG } = sums;
  count.fill(0);
  sumZ.fill(0);
  sumY.fill(0);
  sumX.fill(0);
  sumG.fill(0);
  for (let z = 0, i = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        const s = labels[i]!;
        count[s]!++;
        sumZ[s]! += z;
        sumY[s]! += y;
        sumX[s]! += x;
        sumG[s]! += grey[i]!;
      }
    }
  }
  let moved = 0;
  // skimage divides by zero here (NaN centres that claim nothing); an empty centre keeps its place.
  for (let s = 0; s < cz.length; s++) {
    const m = count[s]!;
    if (m === 0) continue;
    const z = sumZ[s]! / m;
    const y = sumY[s]! / m;
    const x = sumX[s]! / m;
    const shift = Math.max(Math.abs(z - cz[s]!), Math.abs(y - cy[s]!), Math.abs(x - cx[s]!));
    if (shift > moved) moved = shift;
    cz[s] = z;
    cy[s] = y;
    cx[s] = x;
    cg[s] = sumG[s]! / m;
  }
  return moved;
}

/** The final supervoxels of `k` centres: fragments relabelled (unless turned off) or just renumbered. */
export function finishSupervoxels(
  labels: Int32Array,
  shape: Coordinate,
  k: number,
  enforce: boolean | undefined,
  minSizeFactor: number,
  maxSizeFactor: number,
): Supervoxels {
  if (enforce === false) return compactLabels(labels, shape);
  const segmentSize = labels.length / k;
  return enforceConnectivity(
    labels,
    shape,
    Math.trunc(minSizeFactor * segmentSize),
    Math.max(1, Math.trunc(maxSizeFactor * segmentSize)),
  );
}

/** SLIC supervoxels of a grey volume (C order z,y,x). */
export function slic(image: GreyVolume, shape: Coordinate, options: SlicOptions = {}): Supervoxels {
  const n = checkVolume(image, shape, "slic");
  const { nSegments, compactness, iterations, minSizeFactor, maxSizeFactor, spacing } = slicParams(options);

  const [d, h, w] = shape;
  // Grey values as skimage computes them, operation by operation (the last bits decide ties):
  // img_as_float (integers / dtype max), minus the minimum, divided by the new maximum, times 1/compactness.
  const dtypeMax = image instanceof Uint8Array ? 255 : image instanceof Uint16Array ? 65535 : 1;
  const grey = new Float64Array(n);
  let lo = Infinity;
  for (let i = 0; i < n; i++) {
    const v = image[i]! / dtypeMax;
    grey[i] = v;
    if (v < lo) lo = v;
  }
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const v = grey[i]! - lo;
    grey[i] = v;
    if (v > hi) hi = v;
  }
  const ratio = 1 / compactness;
  for (let i = 0; i < n; i++) grey[i] = (hi !== 0 ? grey[i]! / hi : grey[i]!) * ratio;

  const { g0, nz, ny, nx, k, cz, cy, cx, cg } = gridCentres(shape, nSegments);
  // skimage: step = max(steps) for the spatial weight, windows from regular_grid of the actual centre count.
  const step = Math.max(g0.step[0], g0.step[1], g0.step[2]);
  const spatialWeight = 1 / (step * step);
  const win = regularGrid(shape, k).step;
  const [sz, sy, sx] = spacing;

  const labels = new Int32Array(n);
  const distance = new Float64Array(n);
  // Upper bound per row (z,y) on the best distance in the current pass.
  const rowBound = new Float64Array(d * h);
  // First pass: each voxel's bound is its distance to the centre of its grid cell.
  initialBounds(grey, shape, cz, cy, cx, cg, g0, nz, ny, nx, spacing, spatialWeight, labels, rowBound);

  const sums = centreSums(k);
  for (let it = 0; it < iterations; it++) {
    distance.fill(Number.MAX_VALUE);
    for (let s = 0; s < k; s++) {
      const z0 = cz[s]!;
      const y0 = cy[s]!;
      const x0 = cx[s]!;
      const gs = cg[s]!;
      const zMin = Math.max(Math.trunc(Math.max(z0 - 2 * win[0], 0)), 0);
      const zMax = Math.trunc(Math.min(z0 + 2 * win[0] + 1, d));
      const yMin = Math.trunc(Math.max(y0 - 2 * win[1], 0));
      const yMax = Math.trunc(Math.min(y0 + 2 * win[1] + 1, h));
      const xMin = Math.trunc(Math.max(x0 - 2 * win[2], 0));
      const xMax = Math.trunc(Math.min(x0 + 2 * win[2] + 1, w));
      for (let z = zMin; z < zMax; z++) {
        let dz = sz * (z0 - z);
        dz *= dz;
        for (let y = yMin; y < yMax; y++) {
          let dy = sy * (y0 - y);
          dy *= dy;
          const row = z * h + y;
          const bound = rowBound[row]!;
          const base = (dz + dy) * spatialWeight;
          if (base > bound) continue;
          // x range where the spatial term alone stays within the bound
          const reach = Math.sqrt((bound / spatialWeight - dz - dy) / (sx * sx)) + 1;
          const xa = Math.max(xMin, Math.floor(x0 - reach));
          const xb = Math.min(xMax, Math.ceil(x0 + reach) + 1);
          const off = row * w;
          for (let x = xa; x < xb; x++) {
            let dx = sx * (x0 - x);
            dx *= dx;
            const t = grey[off + x]! - gs;
            const dist = (dz + dy + dx) * spatialWeight + t * t;
            if (distance[off + x]! > dist) {
              distance[off + x] = dist;
              labels[off + x] = s;
            }
          }
        }
      }
    }
    if (it === iterations - 1) break;
    moveCentres(labels, grey, shape, sums, cz, cy, cx, cg);
    nextBounds(grey, shape, cz, cy, cx, cg, win, spacing, spatialWeight, labels, rowBound);
  }

  return finishSupervoxels(labels, shape, k, options.enforceConnectivity, minSizeFactor, maxSizeFactor);
}

/** Bounds for the first pass: distance of each voxel to the centre of the grid cell it falls in. */
function initialBounds(
  grey: Float64Array,
  shape: Coordinate,
  cz: Float64Array,
  cy: Float64Array,
  cx: Float64Array,
  cg: Float64Array,
  g: { start: Coordinate; step: Coordinate },
  nz: number,
  ny: number,
  nx: number,
  spacing: Coordinate,
  spatialWeight: number,
  labels: Int32Array,
  rowBound: Float64Array,
): void {
  const [d, h, w] = shape;
  // Initial grey of a centre: skimage starts all centres at grey 0.
  cg.fill(0);
  for (let z = 0; z < d; z++) {
    const iz = cellOf(z, g.start[0], g.step[0], nz);
    for (let y = 0; y < h; y++) {
      const iy = cellOf(y, g.start[1], g.step[1], ny);
      let bound = 0;
      const off = (z * h + y) * w;
      for (let x = 0; x < w; x++) {
        const s = (iz * ny + iy) * nx + cellOf(x, g.start[2], g.step[2], nx);
        labels[off + x] = s;
        const a = spacing[0] * (cz[s]! - z);
        const b = spacing[1] * (cy[s]! - y);
        const c = spacing[2] * (cx[s]! - x);
        const t = grey[off + x]! - cg[s]!;
        const dist = (a * a + b * b + c * c) * spatialWeight + t * t;
        if (dist > bound) bound = dist;
      }
      rowBound[z * h + y] = bound * (1 + 1e-12);
    }
  }
}

/** Bounds for the next pass: distance of each voxel to its current centre (if inside that centre's window). */
function nextBounds(
  grey: Float64Array,
  shape: Coordinate,
  cz: Float64Array,
  cy: Float64Array,
  cx: Float64Array,
  cg: Float64Array,
  win: Coordinate,
  spacing: Coordinate,
  spatialWeight: number,
  labels: Int32Array,
  rowBound: Float64Array,
): void {
  const [d, h, w] = shape;
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      let bound = 0;
      const off = (z * h + y) * w;
      for (let x = 0; x < w; x++) {
        const s = labels[off + x]!;
        const z0 = cz[s]!;
        const y0 = cy[s]!;
        const x0 = cx[s]!;
        // the same window test as the assignment loop
        if (
          z < Math.trunc(Math.max(z0 - 2 * win[0], 0)) ||
          z >= Math.trunc(Math.min(z0 + 2 * win[0] + 1, d)) ||
          y < Math.trunc(Math.max(y0 - 2 * win[1], 0)) ||
          y >= Math.trunc(Math.min(y0 + 2 * win[1] + 1, h)) ||
          x < Math.trunc(Math.max(x0 - 2 * win[2], 0)) ||
          x >= Math.trunc(Math.min(x0 + 2 * win[2] + 1, w))
        ) {
          bound = Infinity;
          break;
        }
        const a = spacing[0] * (z0 - z);
        const b = spacing[1] * (y0 - y);
        const c = spacing[2] * (x0 - x);
        const t = grey[off + x]! - cg[s]!;
        const dist = (a * a + b * b + c * c) * spatialWeight + t * t;
        if (dist > bound) bound = dist;
      }
      rowBound[z * h + y] = bound * (1 + 1e-12);
    }
  }
}

/** Labels renumbered 0..count-1 in order of first appearance (when connectivity is not enforced). */
export function compactLabels(labels: Int32Array, shape: Coordinate): Supervoxels {
  let max = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]! > max) max = labels[i]!;
  const map = new Int32Array(max + 1).fill(-1);
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (map[l] === -1) map[l] = count++;
    labels[i] = map[l]!;
  }
  return { labels, count, shape };
}

/**
 * skimage's `_enforce_label_connectivity_cython` with start_label 0, including its quirks: a fill stops
 * at `maxSize` voxels (the rest of that piece gets a new label later), and a small piece merges into the
 * last already-relabelled neighbour the fill met (none met: it keeps the current new label, which the
 * next piece then shares).
 */
export function enforceConnectivity(
  segments: Int32Array,
  shape: Coordinate,
  minSize: number,
  maxSize: number,
): Supervoxels {
  const [d, h, w] = shape;
  const n = segments.length;
  const out = new Int32Array(n).fill(-1);
  const queue = new Int32Array(Math.max(1, maxSize));
  const plane = h * w;
  let next = 0;
  for (let start = 0; start < n; start++) {
    if (out[start]! >= 0) continue;
    let adjacent = next;
    const label = segments[start]!;
    out[start] = next;
    let size = 1;
    let visited = 0;
    queue[0] = start;
    while (visited < size && size < maxSize) {
      const p = queue[visited]!;
      const x = p % w;
      const y = ((p - x) / w) % h;
      const z = (p - x - y * w) / plane;
      // neighbour order as skimage: x+1, x-1, y+1, y-1, z+1, z-1
      for (let i = 0; i < 6; i++) {
        let q: number;
        if (i === 0) q = x + 1 < w ? p + 1 : -1;
        else if (i === 1) q = x > 0 ? p - 1 : -1;
        else if (i === 2) q = y + 1 < h ? p + w : -1;
        else if (i === 3) q = y > 0 ? p - w : -1;
        else if (i === 4) q = z + 1 < d ? p + plane : -1;
        else q = z > 0 ? p - plane : -1;
        if (q < 0) continue;
        const o = out[q]!;
        if (segments[q] === label && o === -1) {
          out[q] = next;
          queue[size++] = q;
          if (size >= maxSize) break;
        } else if (o >= 0 && o !== next) {
          adjacent = o;
        }
      }
      visited++;
    }
    if (size < minSize) {
      for (let i = 0; i < size; i++) out[queue[i]!] = adjacent;
    } else {
      next++;
    }
  }
  // A trailing small piece with no relabelled neighbour keeps `next` without incrementing it.
  let count = next;
  for (let i = 0; i < n; i++) if (out[i]! >= count) count = out[i]! + 1;
  return { labels: out, count, shape };
}
