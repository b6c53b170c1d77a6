import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { gaussianRadius, gaussianSmooth } from "../ops/gaussian.ts";
import { hessianAt, symmetricEigenvalues3 } from "./hessian.ts";

/*
 * Planarity of ER at its medial surface (COSEM, Heinrich et al. 2021): the binary mask of one object
 * is smoothed with Gaussians of several sigmas (nm, isotropic in nm whatever the voxel size); at each
 * medial-surface voxel the scale-normalised Hessian sigma^2 H is taken at every scale, and the scale
 * whose largest-magnitude eigenvalue is the most negative (the strongest bright structure, Lindeberg's
 * scale selection) gives the planarity there. With eigenvalues |l0| <= |l1| <= |l2|, l2 < 0:
 *
 *   planarity = exp(-Rs^2 / (2 a^2)) * (1 - exp(-Rb^2 / (2 b^2))),  Rs = |l1| / |l2|,
 *               Rb = |2|l2| - |l1| - |l0|| / |l2|,  a = b = 0.5
 *
 * — COSEM's Frangi sheetness (SparkCurvature) without its noise term, whose absolute constant does
 * not carry over between scalings of the Hessian. A sheet (one large eigenvalue) scores ~1, a tube
 * (two) ~0.12, a blob (three) 0; planar means >= 0.6.
 */

export const PLANAR_THRESHOLD = 0.6;

/** Default sigmas (nm): half-thicknesses of ER sheets and tubule radii (20-80 nm thick). */
export const DEFAULT_PLANARITY_SCALES: readonly number[] = [10, 15, 20, 30, 40];

const ALPHA = 0.5;
const BETA = 0.5;

/** Frangi sheetness of eigenvalues sorted by increasing |l|; 0 unless l2 < 0. */
export function sheetness(l0: number, l1: number, l2: number): number {
  if (!(l2 < 0)) return 0;
  const a2 = Math.abs(l2);
  const rs = Math.abs(l1) / a2;
  const rb = Math.abs(2 * a2 - Math.abs(l1) - Math.abs(l0)) / a2;
  return Math.exp(-(rs * rs) / (2 * ALPHA * ALPHA)) * (1 - Math.exp(-(rb * rb) / (2 * BETA * BETA)));
}

/**
 * The sigmas used at a voxel size: each at least the largest voxel edge (a Hessian of a mask barely
 * smoothed across its coarse axis is the staircase's), sorted, duplicates dropped.
 */
export function effectiveScales(scales: readonly number[], voxelSize: Coordinate): number[] {
  if (scales.length === 0) throw invalidArgument("planarity scales: give at least one sigma in nm");
  for (const s of scales) {
    if (!(s > 0 && Number.isFinite(s))) throw invalidArgument(`planarity scale ${s}: expected nm > 0`);
  }
  const floor = Math.max(...voxelSize);
  return [...new Set(scales.map((s) => Math.max(s, floor)))].sort((a, b) => a - b);
}

/** Voxels of context a crop needs around an object: the widest kernel plus the difference stencil. */
export function planarityMargin(scales: readonly number[], voxelSize: Coordinate): Coordinate {
  const s = Math.max(...effectiveScales(scales, voxelSize));
  const r = gaussianRadius({ sigma: coord(s, s, s), voxelSize });
  return coord(r[0] + 2, r[1] + 2, r[2] + 2);
}

/**
 * Planarity (0..1) at the flat indices `points` of a 0/1 mask (C order z,y,x of `shape`). Points
 * must lie at least one voxel inside the volume; the mask should have `planarityMargin` voxels of
 * background around the object (outside counts as reflected, as in scipy).
 */
export function planarityAt(
  mask: Uint8Array,
  shape: Coordinate,
  voxelSize: Coordinate,
  points: Int32Array,
  scales: readonly number[] = DEFAULT_PLANARITY_SCALES,
): Float32Array {
  const sigmas = effectiveScales(scales, voxelSize);
  const out = new Float32Array(points.length);
  const strength = new Float64Array(points.length);
  const h = new Float64Array(6);
  const ev = new Float64Array(3);
  for (const s of sigmas) {
    const smooth = gaussianSmooth(mask, shape, { sigma: coord(s, s, s), voxelSize }, { output: "float32" });
    for (let k = 0; k < points.length; k++) {
      hessianAt(smooth, shape, voxelSize, points[k]!, s * s, h);
      symmetricEigenvalues3(h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, ev);
      const l2 = ev[2]!;
      if (l2 < 0 && -l2 > strength[k]!) {
        strength[k] = -l2;
        out[k] = sheetness(ev[0]!, ev[1]!, l2);
      }
    }
  }
  return out;
}
