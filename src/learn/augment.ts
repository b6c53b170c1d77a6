import { type Coordinate, coord } from "../core/coordinate.ts";
import type { Rng } from "../core/random.ts";
import type { AugmentRequest } from "../engine/engine.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import type { AugmentConfig } from "./config.ts";

/*
 * Augmentation per SPEC §4 (ASEM's gunpowder pipeline): mirror + transpose, elastic deformation
 * (control-point spacing 32 voxels, jitter sigma 2, rotation 0..pi/2, computed at 1/4 resolution),
 * mirror + transpose again, intensity scale 0.85-1.15 and shift +-0.15 (a' = mean + (a - mean) * scale +
 * shift, clipped to [0, 1], gunpowder's IntensityAugment), then [0, 1] -> [-1, 1].
 *
 * TypeScript draws every parameter from the seeded stream and turns the geometric part into the
 * transform the engine applies on the device (AugmentTransform: q = A (p + d(p)) + t): A = T1 R T2 is
 * exact, and d — the elastic jitter seen through A — is evaluated exactly at control points every
 * `subsample` voxels and upsampled linearly by the engine (gunpowder's `subsample`). The engine samples
 * raw linearly and labels/masks nearest, and applies the intensity change.
 *
 * Geometry, per input voxel p (z,y,x) of the network input block of shape S, with centred coordinates
 * c = p - (S - 1) / 2:
 *   a = T2(c)                 second mirror/transpose: a[d] = (mirror[d] ? -1 : 1) * c[perm[d]]
 *   b = R(a) + D(a)           rotation by theta in the yx plane, jitter interpolated (cubic) from control points
 *   q = T1(b) + (S - 1) / 2   first mirror/transpose, back to voxel positions
 * q is relative to the un-augmented block's corner (q = p without augmentation); the source block is
 * read over the bounding box of q, so its size (the margin around the input) is computed from the
 * drawn transform rather than assumed. Transposes only swap axes with the same size and voxel size,
 * and rotation needs y and x to have the same voxel size (anisotropic data keeps its z axis). Spacing
 * and jitter are in voxels of the finest axis and scaled per axis to the same physical length.
 */

export interface MirrorTranspose {
  readonly mirror: readonly [boolean, boolean, boolean];
  /** a[d] = +-c[perm[d]]. */
  readonly perm: readonly [number, number, number];
}

export interface ElasticParams {
  /** Rotation angle in the yx plane (radians). */
  readonly rotation: number;
  /** Control points per axis. */
  readonly controlShape: Coordinate;
  /** Displacements (voxels) at the control points, C-order over controlShape, 3 components (z,y,x) each. */
  readonly displacement: Float32Array;
}

export interface AugmentParams {
  readonly first: MirrorTranspose;
  readonly elastic: ElasticParams | null;
  readonly second: MirrorTranspose;
  readonly intensity: { readonly scale: number; readonly shift: number } | null;
}

const IDENTITY: MirrorTranspose = { mirror: [false, false, false], perm: [0, 1, 2] };

/** Groups of axes that may be swapped: same block size and same voxel size. */
function swappable(shape: Coordinate, voxelSize: Coordinate, d: number, e: number): boolean {
  return shape[d] === shape[e] && Math.abs(voxelSize[d]! - voxelSize[e]!) <= 1e-6 * voxelSize[d]!;
}

function drawMirrorTranspose(
  rng: Rng,
  cfg: AugmentConfig,
  shape: Coordinate,
  voxelSize: Coordinate,
): MirrorTranspose {
  const mirror: [boolean, boolean, boolean] = [false, false, false];
  if (cfg.mirror) for (let d = 0; d < 3; d++) mirror[d] = rng.chance(0.5);
  const perm: [number, number, number] = [0, 1, 2];
  if (cfg.transpose) {
    // A uniformly random permutation among swappable axes (Fisher-Yates restricted to allowed swaps).
    for (let i = 2; i > 0; i--) {
      const options = [];
      for (let j = 0; j <= i; j++)
        if (j === i || swappable(shape, voxelSize, perm[i]!, perm[j]!)) options.push(j);
      const j = options[rng.int(0, options.length - 1)]!;
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
  }
  return { mirror, perm };
}

/** Control-point spacing per axis in voxels: `spacing` voxels of the finest axis, same physical length. */
function axisScale(voxelSize: Coordinate): Coordinate {
  const finest = Math.min(voxelSize[0], voxelSize[1], voxelSize[2]);
  return coord(finest / voxelSize[0], finest / voxelSize[1], finest / voxelSize[2]);
}

/**
 * Draws the augmentation of one block of `inputShape` voxels (the network input) at `voxelSize`.
 * The order of draws is fixed: first mirror/transpose, rotation, jitter, second mirror/transpose,
 * intensity.
 */
export function drawAugment(
  rng: Rng,
  cfg: AugmentConfig,
  inputShape: Coordinate,
  voxelSize: Coordinate,
): AugmentParams {
  const first = drawMirrorTranspose(rng, cfg, inputShape, voxelSize);
  let elastic: ElasticParams | null = null;
  if (cfg.elastic.enabled) {
    const e = cfg.elastic;
    const rotates = Math.abs(voxelSize[1] - voxelSize[2]) <= 1e-6 * voxelSize[1];
    const rotation = rotates ? rng.range(e.rotation[0], e.rotation[1]) : 0;
    const scale = axisScale(voxelSize);
    // The jitter lives on the rotated-from block (after T2): its extent along d is that of axis perm2[d]
    // of the input block; T2 is drawn after, so use the largest extent to cover every case.
    const extent = Math.max(inputShape[0], inputShape[1], inputShape[2]);
    const cs = [0, 1, 2].map((d) => Math.max(2, Math.ceil(extent / (e.controlPointSpacing * scale[d]!)) + 1));
    const controlShape = coord(cs[0]!, cs[1]!, cs[2]!);
    const displacement = new Float32Array(cs[0]! * cs[1]! * cs[2]! * 3);
    for (let i = 0; i < displacement.length; i++)
      displacement[i] = rng.normal() * e.jitterSigma * scale[i % 3]!;
    elastic = { rotation, controlShape, displacement };
  }
  const second = drawMirrorTranspose(rng, cfg, inputShape, voxelSize);
  const intensity = cfg.intensity.enabled
    ? {
        scale: rng.range(cfg.intensity.scale[0], cfg.intensity.scale[1]),
        shift: rng.range(cfg.intensity.shift[0], cfg.intensity.shift[1]),
      }
    : null;
  return { first, elastic, second, intensity };
}

/** No augmentation: the identity map and no intensity change. */
export function noAugment(): AugmentParams {
  return { first: IDENTITY, elastic: null, second: IDENTITY, intensity: null };
}

/** 3x3 matrix, row-major, flat. */
export type FlatMatrix3 = readonly [number, number, number, number, number, number, number, number, number];

/**
 * What the engine applies (engine/organelle_engine/augment.py): for every voxel p of an output region
 * of shape `outShape`, the source position q = A (p + d(p)) + t in the source block's voxels, where d is
 * trilinearly upsampled (corner to corner) from control points `displacement` [3, gz, gy, gx].
 */
export interface AugmentTransform {
  readonly outShape: Coordinate;
  readonly matrix: FlatMatrix3;
  readonly translation: Coordinate;
  readonly displacement: Float32Array | null;
  /** gz, gy, gx of `displacement` (3 components first). */
  readonly displacementShape: Coordinate | null;
}

/** The geometric fields of the engine's augment request for a transform. */
export function engineTransform(
  tr: AugmentTransform,
): Pick<AugmentRequest, "outputShape" | "matrix" | "translation" | "displacement"> {
  const m = tr.matrix;
  return {
    outputShape: tr.outShape,
    matrix: [coord(m[0], m[1], m[2]), coord(m[3], m[4], m[5]), coord(m[6], m[7], m[8])],
    translation: tr.translation,
    ...(tr.displacement && tr.displacementShape
      ? { displacement: tensor(tr.displacement, [3, ...tr.displacementShape]) as Tensor<Float32Array> }
      : {}),
  };
}

function mirrorTransposeMatrix(t: MirrorTranspose): number[] {
  const m = new Array<number>(9).fill(0);
  for (let d = 0; d < 3; d++) m[d * 3 + t.perm[d]!] = t.mirror[d] ? -1 : 1;
  return m;
}

function matmul(a: readonly number[], b: readonly number[]): number[] {
  const m = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) m[i * 3 + j]! += a[i * 3 + k]! * b[k * 3 + j]!;
  return m;
}

/** The linear part A = T1 R T2 of the geometric transform. */
export function linearPart(params: AugmentParams): FlatMatrix3 {
  const th = params.elastic?.rotation ?? 0;
  const c = Math.cos(th);
  const s = Math.sin(th);
  const r = [1, 0, 0, 0, c, -s, 0, s, c];
  return matmul(
    mirrorTransposeMatrix(params.first),
    matmul(r, mirrorTransposeMatrix(params.second)),
  ) as unknown as FlatMatrix3;
}

/** A^-1 for A = T1 R T2: orthogonal, so the transpose. */
function inverse(a: FlatMatrix3): number[] {
  return [a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]];
}

export type PositionFn = (p: readonly number[], out: number[]) => void;

/**
 * The exact source position of input-block voxel p (may be fractional), relative to the un-augmented
 * block's corner: T1(R(T2(c)) + D(T2(c))) + half with c = p - half. Built once per draw.
 */
export function sourcePositionFn(params: AugmentParams, shape: Coordinate): PositionFn {
  const half = [(shape[0] - 1) / 2, (shape[1] - 1) / 2, (shape[2] - 1) / 2];
  const c = [0, 0, 0];
  const a = [0, 0, 0];
  const b = [0, 0, 0];
  const disp = [0, 0, 0];
  const el = params.elastic;
  const cos = el ? Math.cos(el.rotation) : 1;
  const sin = el ? Math.sin(el.rotation) : 0;
  const ext = Math.max(shape[0], shape[1], shape[2]);
  const ch = (ext - 1) / 2;
  const cstep = el ? [0, 1, 2].map((d) => (ext - 1) / (el.controlShape[d]! - 1)) : [1, 1, 1];
  return (p, out) => {
    for (let d = 0; d < 3; d++) c[d] = p[d]! - half[d]!;
    applyMirrorTranspose(params.second, c, a);
    if (el) {
      interpolateDisplacement(el, el.controlShape, cstep, ch, a, disp);
      b[0] = a[0]! + disp[0]!;
      b[1] = cos * a[1]! - sin * a[2]! + disp[1]!;
      b[2] = sin * a[1]! + cos * a[2]! + disp[2]!;
    } else {
      b[0] = a[0]!;
      b[1] = a[1]!;
      b[2] = a[2]!;
    }
    applyMirrorTranspose(params.first, b, out);
    for (let d = 0; d < 3; d++) out[d] = out[d]! + half[d]!;
  };
}

export function sourcePosition(
  params: AugmentParams,
  shape: Coordinate,
  p: readonly number[],
  out: number[],
): void {
  sourcePositionFn(params, shape)(p, out);
}

/** Control points per axis for a region of n voxels: every `subsample` voxels, corner to corner. */
function gridPoints(n: number, subsample: number): number {
  return Math.max(2, Math.ceil((n - 1) / subsample) + 1);
}

function gridPosition(i: number, points: number, n: number): number {
  return (i * (n - 1)) / (points - 1);
}

/**
 * The source block an input block of `shape` needs under `params`, relative to the un-augmented
 * block's corner (voxels): the bounding box of the transform evaluated at the corners of the cells of
 * the interpolation grid (the engine's positions are interpolated between them), plus one voxel for
 * linear interpolation. This is the margin around the network input, computed per draw.
 */
export function sourceBox(
  params: AugmentParams,
  shape: Coordinate,
  subsample: number,
): { begin: Coordinate; shape: Coordinate } {
  const g = [0, 1, 2].map((d) => gridPoints(shape[d]!, params.elastic ? subsample : 1));
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  const p = [0, 0, 0];
  const q = [0, 0, 0];
  const position = sourcePositionFn(params, shape);
  for (let i = 0; i < g[0]!; i++) {
    p[0] = gridPosition(i, g[0]!, shape[0]);
    for (let j = 0; j < g[1]!; j++) {
      p[1] = gridPosition(j, g[1]!, shape[1]);
      for (let k = 0; k < g[2]!; k++) {
        p[2] = gridPosition(k, g[2]!, shape[2]);
        position(p, q);
        for (let d = 0; d < 3; d++) {
          if (q[d]! < lo[d]!) lo[d] = q[d]!;
          if (q[d]! > hi[d]!) hi[d] = q[d]!;
        }
      }
    }
  }
  const eps = 1e-6;
  const begin = lo.map((v) => Math.floor(v + eps));
  const end = hi.map((v) => Math.floor(v - eps) + 2);
  return {
    begin: coord(begin[0]!, begin[1]!, begin[2]!),
    shape: coord(end[0]! - begin[0]!, end[1]! - begin[1]!, end[2]! - begin[2]!),
  };
}

/**
 * The engine transform for the sub-region `region` of an input block of `shape` (e.g. the whole block
 * for raw, the output crop for labels), reading from a source block whose corner is at `sourceBegin`
 * relative to the un-augmented block's corner. Without elastic deformation it is affine and exact;
 * with it, d is the exact transform's deviation from the affine part at control points every
 * `subsample` voxels (gunpowder's subsample: computed coarse, upsampled linearly).
 */
export function transformFor(
  params: AugmentParams,
  shape: Coordinate,
  region: { begin: Coordinate; shape: Coordinate },
  sourceBegin: Coordinate,
  subsample: number,
): AugmentTransform {
  const a = linearPart(params);
  const half = [(shape[0] - 1) / 2, (shape[1] - 1) / 2, (shape[2] - 1) / 2];
  // q_rel(p') = A (p' + region.begin - half) + half - sourceBegin + (deviation), p' in region voxels.
  const shifted = [0, 1, 2].map((d) => region.begin[d]! - half[d]!);
  const t = [0, 1, 2].map(
    (r) =>
      half[r]! -
      sourceBegin[r]! +
      a[r * 3]! * shifted[0]! +
      a[r * 3 + 1]! * shifted[1]! +
      a[r * 3 + 2]! * shifted[2]!,
  );
  const translation = coord(t[0]!, t[1]!, t[2]!);
  if (!params.elastic) {
    return { outShape: region.shape, matrix: a, translation, displacement: null, displacementShape: null };
  }
  const ainv = inverse(a);
  const g = [0, 1, 2].map((d) => gridPoints(region.shape[d]!, subsample));
  const n = g[0]! * g[1]! * g[2]!;
  const disp = new Float32Array(3 * n);
  const p = [0, 0, 0];
  const pin = [0, 0, 0];
  const q = [0, 0, 0];
  const position = sourcePositionFn(params, shape);
  let k = 0;
  for (let i = 0; i < g[0]!; i++) {
    p[0] = gridPosition(i, g[0]!, region.shape[0]);
    for (let j = 0; j < g[1]!; j++) {
      p[1] = gridPosition(j, g[1]!, region.shape[1]);
      for (let l = 0; l < g[2]!; l++, k++) {
        p[2] = gridPosition(l, g[2]!, region.shape[2]);
        for (let d = 0; d < 3; d++) pin[d] = p[d]! + region.begin[d]!;
        position(pin, q);
        // A (p + d) + t = q - sourceBegin  =>  d = A^-1 (q - sourceBegin - t) - p
        const r0 = q[0]! - sourceBegin[0] - translation[0];
        const r1 = q[1]! - sourceBegin[1] - translation[1];
        const r2 = q[2]! - sourceBegin[2] - translation[2];
        for (let d = 0; d < 3; d++) {
          disp[d * n + k] = ainv[d * 3]! * r0 + ainv[d * 3 + 1]! * r1 + ainv[d * 3 + 2]! * r2 - p[d]!;
        }
      }
    }
  }
  return {
    outShape: region.shape,
    matrix: a,
    translation,
    displacement: disp,
    displacementShape: coord(g[0]!, g[1]!, g[2]!),
  };
}

function applyMirrorTranspose(t: MirrorTranspose, v: number[], out: number[]): void {
  const x = v[t.perm[0]]!;
  const y = v[t.perm[1]]!;
  const z = v[t.perm[2]]!;
  out[0] = t.mirror[0] ? -x : x;
  out[1] = t.mirror[1] ? -y : y;
  out[2] = t.mirror[2] ? -z : z;
}

/** Catmull-Rom weights of the four control points around fraction t (interpolating, C1). */
function cubicWeights(t: number, w: number[]): void {
  const t2 = t * t;
  const t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}

const WZ = [0, 0, 0, 0];
const WY = [0, 0, 0, 0];
const WX = [0, 0, 0, 0];

/**
 * The jitter at centred position a: a cubic (Catmull-Rom) interpolation of the control points, smooth
 * like the cubic spline gunpowder upscales its control points with, so that the engine's linear
 * upsampling from every `subsample` voxels stays close to it. Edge control points repeat outwards.
 */
function interpolateDisplacement(
  el: ElasticParams,
  cshape: Coordinate,
  cstep: number[],
  ch: number,
  a: number[],
  out: number[],
): void {
  const i0 = [0, 0, 0];
  const ws = [WZ, WY, WX];
  for (let d = 0; d < 3; d++) {
    const n = cshape[d]!;
    const u = Math.min(n - 1, Math.max(0, (a[d]! + ch) / cstep[d]!));
    const i = Math.min(n - 2, Math.floor(u));
    i0[d] = i;
    cubicWeights(u - i, ws[d]!);
  }
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  const [nz, ny, nx] = cshape;
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let dz = 0; dz < 4; dz++) {
    const wz = WZ[dz]!;
    const iz = clamp(i0[0]! + dz - 1, nz);
    for (let dy = 0; dy < 4; dy++) {
      const wzy = wz * WY[dy]!;
      const iy = clamp(i0[1]! + dy - 1, ny);
      for (let dx = 0; dx < 4; dx++) {
        const w = wzy * WX[dx]!;
        const idx = ((iz * ny + iy) * nx + clamp(i0[2]! + dx - 1, nx)) * 3;
        out[0] += w * el.displacement[idx]!;
        out[1] += w * el.displacement[idx + 1]!;
        out[2] += w * el.displacement[idx + 2]!;
      }
    }
  }
}

/**
 * The largest margin (voxels per side, per axis) any drawn transform can need around an input block of
 * `shape`: rotation of the yx plane by up to 45 degrees off the axes, jitter up to 5 sigma, and 1 voxel for
 * interpolation. For sizing reads and documentation; each sample reads only what its own map needs.
 */
export function worstCaseMargin(cfg: AugmentConfig, shape: Coordinate): Coordinate {
  const ext = Math.max(shape[0], shape[1], shape[2]);
  if (!cfg.elastic.enabled) {
    const m = cfg.transpose ? ext - Math.min(shape[0], shape[1], shape[2]) : 0;
    return coord(Math.ceil(m / 2) + 1, Math.ceil(m / 2) + 1, Math.ceil(m / 2) + 1);
  }
  const rotated = Math.SQRT2 * ext;
  const m = Math.ceil((rotated - Math.min(...shape)) / 2 + 5 * cfg.elastic.jitterSigma) + 1;
  return coord(m, m, m);
}

/**
 * Applies an engine transform in TypeScript, the way the engine does (q = A (p + d(p)) + t, trilinear
 * control-point upsampling with aligned corners, linear or nearest sampling, `fill` outside): the
 * reference the engine is tested against. Not used for training.
 */
export function applyTransform(
  tr: AugmentTransform,
  source: Float32Array | Uint8Array,
  sourceShape: Coordinate,
  mode: "linear" | "nearest",
  fill: number,
): Float32Array {
  const [oz, oy, ox] = tr.outShape;
  const out = new Float32Array(oz * oy * ox);
  const a = tr.matrix;
  const t = tr.translation;
  const gs = tr.displacementShape;
  const n = gs ? gs[0] * gs[1] * gs[2] : 0;
  // Per axis: the control cell and fraction of every output index (aligned corners).
  const cells = [0, 1, 2].map((i) => {
    const g = gs ? gs[i]! : 2;
    const len = tr.outShape[i]!;
    const i0 = new Int32Array(len);
    const f = new Float64Array(len);
    for (let p = 0; p < len; p++) {
      const u = (p * (g - 1)) / Math.max(1, len - 1);
      i0[p] = Math.min(g - 2, Math.floor(u));
      f[p] = u - i0[p]!;
    }
    return { i0, f };
  });
  const d = [0, 0, 0];
  const p = [0, 0, 0];
  const q = [0, 0, 0];
  let k = 0;
  for (let z = 0; z < oz; z++) {
    for (let y = 0; y < oy; y++) {
      for (let x = 0; x < ox; x++, k++) {
        p[0] = z;
        p[1] = y;
        p[2] = x;
        if (tr.displacement && gs) {
          const iz = cells[0]!.i0[z]!;
          const iy = cells[1]!.i0[y]!;
          const ix = cells[2]!.i0[x]!;
          const fz = cells[0]!.f[z]!;
          const fy = cells[1]!.f[y]!;
          const fx = cells[2]!.f[x]!;
          d[0] = d[1] = d[2] = 0;
          for (let dz = 0; dz < 2; dz++)
            for (let dy = 0; dy < 2; dy++)
              for (let dx = 0; dx < 2; dx++) {
                const w = (dz ? fz : 1 - fz) * (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx);
                if (w === 0) continue;
                const g = ((iz + dz) * gs[1] + iy + dy) * gs[2] + ix + dx;
                d[0] += w * tr.displacement[g]!;
                d[1] += w * tr.displacement[n + g]!;
                d[2] += w * tr.displacement[2 * n + g]!;
              }
          p[0] += d[0]!;
          p[1] += d[1]!;
          p[2] += d[2]!;
        }
        for (let r = 0; r < 3; r++)
          q[r] = a[r * 3]! * p[0]! + a[r * 3 + 1]! * p[1]! + a[r * 3 + 2]! * p[2]! + t[r]!;
        out[k] =
          mode === "nearest"
            ? sampleNearest(source, sourceShape, q, fill)
            : sampleLinear(source, sourceShape, q, fill);
      }
    }
  }
  return out;
}

function at(
  src: Float32Array | Uint8Array,
  s: Coordinate,
  z: number,
  y: number,
  x: number,
  fill: number,
): number {
  if (z < 0 || y < 0 || x < 0 || z >= s[0] || y >= s[1] || x >= s[2]) return fill;
  return src[(z * s[1] + y) * s[2] + x]!;
}

function sampleNearest(src: Float32Array | Uint8Array, s: Coordinate, q: number[], fill: number): number {
  return at(src, s, Math.floor(q[0]! + 0.5), Math.floor(q[1]! + 0.5), Math.floor(q[2]! + 0.5), fill);
}

function sampleLinear(src: Float32Array | Uint8Array, s: Coordinate, q: number[], fill: number): number {
  const z0 = Math.floor(q[0]!);
  const y0 = Math.floor(q[1]!);
  const x0 = Math.floor(q[2]!);
  const fz = q[0]! - z0;
  const fy = q[1]! - y0;
  const fx = q[2]! - x0;
  let v = 0;
  for (let dz = 0; dz < 2; dz++)
    for (let dy = 0; dy < 2; dy++)
      for (let dx = 0; dx < 2; dx++) {
        const w = (dz ? fz : 1 - fz) * (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx);
        if (w !== 0) v += w * at(src, s, z0 + dz, y0 + dy, x0 + dx, fill);
      }
  return v;
}

/** gunpowder's IntensityAugment on [0, 1] data followed by the scale to [-1, 1] (in place): the reference for the engine's. */
export function applyIntensity(raw: Float32Array, intensity: AugmentParams["intensity"]): void {
  if (intensity) {
    let sum = 0;
    for (let i = 0; i < raw.length; i++) sum += raw[i]!;
    const mean = sum / raw.length;
    for (let i = 0; i < raw.length; i++) {
      const v = mean + (raw[i]! - mean) * intensity.scale + intensity.shift;
      raw[i] = v < 0 ? 0 : Math.min(v, 1);
    }
  }
  for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! * 2 - 1;
}
