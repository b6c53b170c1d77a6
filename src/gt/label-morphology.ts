import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import { type BlockGeometry, checkCovers, checkGeometry } from "../ops/block-geometry.ts";
import { ballRows, binaryDilation, binaryErosion } from "../ops/morphology.ts";
import { cropBox, intersectBoxes } from "../ops/volume3d.ts";

/*
 * Morphology "by n voxels" for ground truth, the way ASEM's scripts do it:
 *
 * - "cross" (default): n steps of the 6-neighbour cross, i.e. scipy.ndimage.binary_dilation /
 *   binary_erosion(..., iterations=n) with the default structure (ASEM's 60_create_metric_mask.py and
 *   utils/dilate_labels.py). n steps of the cross reach exactly the voxels within city-block (L1)
 *   distance n, so both are computed from a city-block distance transform in six passes, whatever n.
 * - "ball": the Euclidean ball of radius n voxels (skimage.morphology.ball(n), ASEM's gunpowder
 *   DilateLabels node), through the exact ball morphology of src/ops/morphology.ts.
 *
 * Borders follow scipy's defaults (border_value=0): the outside of the volume is background, so erosion
 * eats labels that touch the volume border and dilation adds nothing from outside. n = 0 means no
 * step (scipy's iterations=0 would instead repeat until nothing changes).
 *
 * Instance labels (bias correction of uint32 ids): a background voxel takes the largest id within reach
 * (ASEM's tie rule 'max'); labelled voxels keep their id. (ASEM's dilate_labels lets a larger id
 * overwrite a touching smaller one as well; keeping annotated voxels is deliberate.)
 */

export type Structure = "cross" | "ball";

export type LabelVolume = Uint8Array | Uint16Array | Uint32Array;

function checkSteps(n: number, what: string): void {
  if (!(Number.isInteger(n) && n >= 0 && n <= 1000)) {
    throw invalidArgument(`${what}: ${n} is not a whole number of voxels from 0 to 1000`);
  }
}

function checkShape(length: number, shape: Coordinate, what: string): number {
  const n = shape[0] * shape[1] * shape[2];
  if (!shape.every((s) => Number.isInteger(s) && s >= 0) || n !== length) {
    throw invalidArgument(`${what}: ${length} voxels do not fill shape (${shape.join(", ")})`);
  }
  return n;
}

/**
 * City-block distance from every voxel to the nearest source voxel — a non-zero voxel when
 * `sourceIsNonZero`, else a zero voxel — (or to the
 * outside of the volume when `outsideIsSource`), saturated at cap + 1. Separable: the L1 distance is
 * a sum over axes, so three pairs of min-plus sweeps with the |d| kernel give it exactly.
 */
export function cityBlockDistance(
  source: ArrayLike<number>,
  shape: Coordinate,
  sourceIsNonZero: boolean,
  cap: number,
  outsideIsSource: boolean,
): Uint16Array {
  checkShape(source.length, shape, "city-block distance");
  if (!(Number.isInteger(cap) && cap >= 0 && cap < 65534)) {
    throw invalidArgument(`city-block distance: cap ${cap} must be a whole number below 65534`);
  }
  const [nz, ny, nx] = shape;
  const far = cap + 1;
  const edge = outsideIsSource ? 0 : far;
  const d = new Uint16Array(source.length);
  // x: nearest source along the row
  for (let r = 0; r < nz * ny; r++) {
    const o = r * nx;
    let prev = edge;
    for (let x = 0; x < nx; x++) {
      const v = (source[o + x] !== 0) === sourceIsNonZero ? 0 : prev < far ? prev + 1 : far;
      d[o + x] = v;
      prev = v;
    }
    prev = edge;
    for (let x = nx - 1; x >= 0; x--) {
      const v = prev + 1;
      if (v < d[o + x]!) d[o + x] = v;
      prev = d[o + x]!;
    }
  }
  sweep(d, nx, ny, edge, far);
  sweep(d, ny * nx, nz, edge, far);
  return d;
}

/**
 * Min-plus sweeps (forward and backward) along one axis whose neighbours lie `stride` elements apart:
 * `length` layers of `stride` contiguous elements, repeated every stride * length elements. Whole
 * layers are processed at once, so memory is read in order whatever the axis. `edge` is the distance
 * of the outside.
 */
function sweep(d: Uint16Array, stride: number, length: number, edge: number, far: number): void {
  const span = stride * length;
  const first = Math.min(edge + 1, far);
  for (let base = 0; base < d.length; base += span) {
    const last = base + (length - 1) * stride;
    for (let i = base; i < base + stride; i++) if (d[i]! > first) d[i] = first;
    for (let i = last; i < last + stride; i++) if (d[i]! > first) d[i] = first;
    for (let layer = base + stride; layer <= last; layer += stride) {
      for (let i = layer, e = layer + stride; i < e; i++) {
        const v = d[i - stride]! + 1;
        if (v < d[i]!) d[i] = v;
      }
    }
    for (let layer = last - stride; layer >= base; layer -= stride) {
      for (let i = layer, e = layer + stride; i < e; i++) {
        const v = d[i + stride]! + 1;
        if (v < d[i]!) d[i] = v;
      }
    }
  }
}

/** Binary dilation of the non-zero voxels by n voxels (0/1 output). */
export function dilateBinary(
  labels: ArrayLike<number>,
  shape: Coordinate,
  n: number,
  structure: Structure = "cross",
): Uint8Array {
  checkSteps(n, "dilation");
  const len = checkShape(labels.length, shape, "dilation");
  const out = new Uint8Array(len);
  if (structure === "ball") {
    return binaryDilation(binarize(labels), shape, n, { voxelSize: coord(1, 1, 1), borderValue: 0 });
  }
  const d = cityBlockDistance(labels, shape, true, n, false);
  for (let i = 0; i < len; i++) out[i] = d[i]! <= n ? 1 : 0;
  return out;
}

/** Binary erosion of the non-zero voxels by n voxels, the outside counting as background (0/1 output). */
export function erodeBinary(
  labels: ArrayLike<number>,
  shape: Coordinate,
  n: number,
  structure: Structure = "cross",
): Uint8Array {
  checkSteps(n, "erosion");
  const len = checkShape(labels.length, shape, "erosion");
  if (structure === "ball") {
    return binaryErosion(binarize(labels), shape, n, { voxelSize: coord(1, 1, 1), borderValue: 0 });
  }
  const out = new Uint8Array(len);
  if (n === 0) {
    for (let i = 0; i < len; i++) out[i] = labels[i] !== 0 ? 1 : 0;
    return out;
  }
  const d = cityBlockDistance(labels, shape, false, n, true);
  for (let i = 0; i < len; i++) out[i] = d[i]! > n ? 1 : 0;
  return out;
}

/** Metric exclusion zone: dilate(labels != 0, dilate) XOR erode(labels != 0, erode), 0/1. */
export function exclusionZone(
  labels: ArrayLike<number>,
  shape: Coordinate,
  dilate: number,
  erode: number,
  structure: Structure = "cross",
): Uint8Array {
  const dil = dilateBinary(labels, shape, dilate, structure);
  const ero = erodeBinary(labels, shape, erode, structure);
  for (let i = 0; i < dil.length; i++) dil[i] = dil[i]! ^ ero[i]!;
  return dil;
}

/**
 * Bias correction: labels grown by n voxels. Labelled voxels keep their value; a background voxel
 * takes the largest value within reach (for binary labels: plain dilation).
 */
export function dilateLabels<T extends LabelVolume>(
  labels: T,
  shape: Coordinate,
  n: number,
  structure: Structure = "cross",
): T {
  checkSteps(n, "label dilation");
  const len = checkShape(labels.length, shape, "label dilation");
  const grown = structure === "ball" ? maxFilterBall(labels, shape, n) : maxFilterCross(labels, shape, n);
  const out = new (labels.constructor as new (k: number) => T)(len);
  for (let i = 0; i < len; i++) out[i] = labels[i] !== 0 ? labels[i]! : grown[i]!;
  return out;
}

/** Largest value within n steps of the cross: n passes of the 7-point maximum (outside = 0). */
function maxFilterCross(labels: LabelVolume, shape: Coordinate, n: number): LabelVolume {
  const [nz, ny, nx] = shape;
  const plane = ny * nx;
  const make = labels.constructor as new (k: number) => LabelVolume;
  let cur: LabelVolume = labels;
  let next: LabelVolume = new make(labels.length);
  let spare: LabelVolume | undefined;
  for (let step = 0; step < n; step++) {
    for (let z = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        const o = z * plane + y * nx;
        for (let x = 0; x < nx; x++) {
          const i = o + x;
          let m = cur[i]!;
          if (x > 0 && cur[i - 1]! > m) m = cur[i - 1]!;
          if (x < nx - 1 && cur[i + 1]! > m) m = cur[i + 1]!;
          if (y > 0 && cur[i - nx]! > m) m = cur[i - nx]!;
          if (y < ny - 1 && cur[i + nx]! > m) m = cur[i + nx]!;
          if (z > 0 && cur[i - plane]! > m) m = cur[i - plane]!;
          if (z < nz - 1 && cur[i + plane]! > m) m = cur[i + plane]!;
          next[i] = m;
        }
      }
    }
    const done = next;
    next = spare ?? new make(labels.length);
    if (cur !== labels) spare = cur;
    cur = done;
  }
  return cur;
}

/**
 * Largest value within the ball of radius n voxels: for every row of the ball (a segment of half
 * width w along x at offset (oz, oy)), a sliding maximum of width 2w+1 over the source row, folded
 * into the output row. Cost ~ voxels x rows of the ball.
 */
function maxFilterBall(labels: LabelVolume, shape: Coordinate, n: number): LabelVolume {
  const [nz, ny, nx] = shape;
  const ball = ballRows(n, coord(1, 1, 1));
  const sy = 2 * ball.ry + 1;
  const out = new (labels.constructor as new (k: number) => LabelVolume)(labels.length);
  const slid = new Float64Array(nx);
  const fwd = new Float64Array(nx + 2 * ball.rx);
  const bwd = new Float64Array(nx + 2 * ball.rx);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const o = (z * ny + y) * nx;
      for (let oz = -ball.rz; oz <= ball.rz; oz++) {
        const zz = z + oz;
        if (zz < 0 || zz >= nz) continue;
        for (let oy = -ball.ry; oy <= ball.ry; oy++) {
          const yy = y + oy;
          const w = ball.widths[(oz + ball.rz) * sy + (oy + ball.ry)]!;
          if (w < 0 || yy < 0 || yy >= ny) continue;
          slidingMax(labels, (zz * ny + yy) * nx, nx, w, slid, fwd, bwd);
          for (let x = 0; x < nx; x++) if (slid[x]! > out[o + x]!) out[o + x] = slid[x]!;
        }
      }
    }
  }
  return out;
}

/**
 * out[x] = max(src[at + x - w .. at + x + w]), the outside of the row counting as 0 (van Herk /
 * Gil-Werman): on the row padded by w zeros each side, every window is exactly k = 2w + 1 long and
 * spans at most two segments of length k, so the backward running maximum of the first segment and
 * the forward one of the last give it.
 */
function slidingMax(
  src: LabelVolume,
  at: number,
  nx: number,
  w: number,
  out: Float64Array,
  fwd: Float64Array,
  bwd: Float64Array,
): void {
  const k = 2 * w + 1;
  const len = nx + 2 * w;
  // fwd holds the padded row first; the forward maxima then overwrite it in place.
  fwd.fill(0, 0, w);
  for (let x = 0; x < nx; x++) fwd[w + x] = src[at + x]!;
  fwd.fill(0, w + nx, len);
  for (let p = len - 1; p >= 0; p--)
    bwd[p] = p === len - 1 || (p + 1) % k === 0 ? fwd[p]! : Math.max(bwd[p + 1]!, fwd[p]!);
  for (let p = 1; p < len; p++) if (p % k !== 0 && fwd[p - 1]! > fwd[p]!) fwd[p] = fwd[p - 1]!;
  for (let x = 0; x < nx; x++) out[x] = Math.max(bwd[x]!, fwd[x + k - 1]!);
}

function binarize(labels: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] !== 0 ? 1 : 0;
  return out;
}

/** Voxels of context a block needs on each side for n steps (cross or ball alike). */
export function stepsContext(n: number): Coordinate {
  return coord(n, n, n);
}

/**
 * Runs `op` on a block's read box and returns its write box. Voxels of the read box outside the
 * volume must be zero (the runner's fill): that is the border_value=0 outside, so the volume border
 * keeps scipy's semantics; every write voxel lies at least `reach` voxels from the read box's other
 * sides, beyond any step's reach.
 */
export function onBlock<T extends Uint8Array | Uint16Array | Uint32Array>(
  read: LabelVolume,
  geometry: BlockGeometry,
  reach: number,
  op: (data: LabelVolume, shape: Coordinate) => T,
): T {
  checkGeometry(geometry, read.length, "ground-truth morphology (block)");
  const { write, volumeShape } = geometry;
  const grown: VoxelBox = {
    begin: coord(write.begin[0] - reach, write.begin[1] - reach, write.begin[2] - reach),
    shape: coord(write.shape[0] + 2 * reach, write.shape[1] + 2 * reach, write.shape[2] + 2 * reach),
  };
  checkCovers(
    geometry,
    intersectBoxes(grown, { begin: coord(0, 0, 0), shape: volumeShape }),
    "ground-truth morphology (block)",
  );
  const result = op(read, geometry.read.shape);
  return cropTyped(result, geometry.read, write);
}

function cropTyped<T extends Uint8Array | Uint16Array | Uint32Array>(
  src: T,
  from: VoxelBox,
  box: VoxelBox,
): T {
  const make = (k: number) => new (src.constructor as new (k: number) => T)(k);
  return cropBox(
    src as unknown as Uint8Array,
    from,
    box,
    make as unknown as (k: number) => Uint8Array,
  ) as unknown as T;
}
