import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { distanceTransform } from "../ops/edt.ts";
import { watershed } from "../ops/watershed.ts";

/*
 * Splitting over-merged objects (`organelle refine --split`): one object at a time, from a crop of
 * its bounding box grown by one voxel, so memory is bounded by the largest object.
 *
 *   seeds        local maxima (26-neighbourhood, within the object) of the object's Euclidean
 *                distance transform (nm, anisotropic; the outside of the crop counts as background)
 *                or of the smoothed prediction, at least `seedThreshold` high; taken greedily from
 *                the highest (ties: first in C order) and dropped when closer than `minSeedDistance`
 *                nm to one already taken (non-maximum suppression, as skimage's peak_local_max).
 *   fragments    seeded watershed (skimage semantics, src/ops/watershed.ts) of the negated distance
 *                transform (or 1 - prediction) inside the object's mask.
 *   agglomerate  every pair of adjacent fragments scores the `mergeQuantile` of the values along its
 *                shared boundary (each face between the two: the smaller of the two voxels' values),
 *                divided by the smaller of the two fragments' peak values — so a score is a neck's
 *                width (or its prediction) relative to the thinner (or fainter) side, whatever the
 *                object's size; a raw prediction would not do, since every voxel of an object
 *                thresholded from it is above the threshold); the best pair above
 *                `mergeThreshold` merges (ties: the lower fragment numbers), its boundary lists are
 *                pooled, and this repeats until no pair passes.
 *
 * Pieces are numbered 1..k by their first voxel in C order. A box crop preserves C order, so the
 * numbering — and everything else here — is the same on a crop as on the whole volume.
 */

export type SeedSource = "distance" | "prediction";

export interface SplitParams {
  readonly seeds: SeedSource;
  /** nm between seeds, at least. */
  readonly minSeedDistance: number;
  /** Lowest seed value: nm of distance, or a probability. */
  readonly seedThreshold: number;
  /** Quantile (0..1) of the boundary values that scores a pair of fragments. */
  readonly mergeQuantile: number;
  /** Pairs scoring above this merge (a fraction of the smaller fragment peak). */
  readonly mergeThreshold: number;
}

export const DEFAULT_MIN_SEED_DISTANCE = 100;
export const DEFAULT_MERGE_QUANTILE = 0.5;
export const DEFAULT_MERGE_THRESHOLD: Record<SeedSource, number> = { distance: 0.25, prediction: 0.5 };

export interface SplitResult {
  /** 0 outside the object, else the piece number 1..count. */
  readonly pieces: Uint32Array;
  readonly count: number;
  /** Watershed fragments before agglomeration (= seeds). */
  readonly fragments: number;
}

export function checkSplitParams(p: SplitParams): void {
  if (p.seeds !== "distance" && p.seeds !== "prediction")
    throw invalidArgument(`--seeds ${p.seeds}: expected distance or prediction`);
  if (!(p.minSeedDistance >= 0 && Number.isFinite(p.minSeedDistance)))
    throw invalidArgument(`--min-seed-distance ${p.minSeedDistance}: expected nm >= 0`);
  if (!Number.isFinite(p.seedThreshold))
    throw invalidArgument(`--seed-threshold ${p.seedThreshold}: expected a number`);
  if (!(p.mergeQuantile >= 0 && p.mergeQuantile <= 1))
    throw invalidArgument(`--merge-quantile ${p.mergeQuantile}: expected a quantile in [0, 1]`);
  if (!Number.isFinite(p.mergeThreshold))
    throw invalidArgument(`--merge-threshold ${p.mergeThreshold}: expected a number`);
}

/**
 * Splits the object `mask` (non-zero) of a crop of `shape`. `prediction` (values 0..1, same shape)
 * is required for prediction seeds.
 */
export function splitObject(
  mask: Uint8Array,
  shape: Coordinate,
  voxelSize: Coordinate,
  p: SplitParams,
  prediction?: Float32Array,
): SplitResult {
  const [nz, ny, nx] = shape;
  const n = nz * ny * nx;
  let values: Float64Array | Float32Array;
  let image: Float64Array | Float32Array;
  if (p.seeds === "distance") {
    const edt = distanceTransform(mask, shape, { voxelSize, outside: "sources" });
    const neg = new Float64Array(n);
    for (let i = 0; i < n; i++) neg[i] = -edt[i]!;
    values = edt;
    image = neg;
  } else {
    if (!prediction || prediction.length !== n)
      throw invalidArgument("split: prediction seeds need the prediction crop");
    const inv = new Float32Array(n);
    for (let i = 0; i < n; i++) inv[i] = 1 - prediction[i]!;
    values = prediction;
    image = inv;
  }
  const seeds = pickSeeds(values, mask, shape, voxelSize, p.minSeedDistance, p.seedThreshold);
  const markers = new Uint32Array(n);
  for (let k = 0; k < seeds.length; k++) markers[seeds[k]!] = k + 1;
  const frag = watershed(image, shape, markers, { mask });
  fillUnreached(frag, mask, shape);
  const nf = seeds.length;
  const root = agglomerate(frag, values, shape, nf, p);
  // Number pieces by first voxel in C order.
  const pieceOf = new Uint32Array(nf + 1);
  let count = 0;
  const pieces = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const f = frag[i]!;
    if (f === 0) continue;
    const r = root[f]!;
    if (pieceOf[r] === 0) pieceOf[r] = ++count;
    pieces[i] = pieceOf[r]!;
  }
  return { pieces, count, fragments: nf };
}

/** Seed voxel indices: 26-neighbourhood maxima inside the mask, suppressed greedily by distance. */
export function pickSeeds(
  values: Float64Array | Float32Array,
  mask: Uint8Array,
  shape: Coordinate,
  vs: Coordinate,
  minDistance: number,
  threshold: number,
): Int32Array {
  const [nz, ny, nx] = shape;
  const cand: number[] = [];
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        if (mask[i] === 0) continue;
        const v = values[i]!;
        if (!(v >= threshold)) continue;
        let isMax = true;
        for (let dz = -1; dz <= 1 && isMax; dz++) {
          const zz = z + dz;
          if (zz < 0 || zz >= nz) continue;
          for (let dy = -1; dy <= 1 && isMax; dy++) {
            const yy = y + dy;
            if (yy < 0 || yy >= ny) continue;
            for (let dx = -1; dx <= 1; dx++) {
              const xx = x + dx;
              if (xx < 0 || xx >= nx) continue;
              const j = (zz * ny + yy) * nx + xx;
              if (mask[j] !== 0 && values[j]! > v) {
                isMax = false;
                break;
              }
            }
          }
        }
        if (isMax) cand.push(i);
      }
    }
  }
  cand.sort((a, b) => values[b]! - values[a]! || a - b);
  const d2 = minDistance * minDistance;
  const taken: number[] = [];
  const tz: number[] = [];
  const ty: number[] = [];
  const tx: number[] = [];
  const plane = ny * nx;
  for (const i of cand) {
    const z = Math.trunc(i / plane) * vs[0];
    const y = Math.trunc((i % plane) / nx) * vs[1];
    const x = (i % nx) * vs[2];
    let far = true;
    for (let k = 0; k < taken.length; k++) {
      const a = z - tz[k]!;
      const b = y - ty[k]!;
      const c = x - tx[k]!;
      if (a * a + b * b + c * c < d2) {
        far = false;
        break;
      }
    }
    if (!far) continue;
    taken.push(i);
    tz.push(z);
    ty.push(y);
    tx.push(x);
  }
  return Int32Array.from(taken);
}

/**
 * The watershed floods 6-connected; an object labelled with 18/26-connectivity can have voxels no
 * flood reaches. They join a labelled 26-neighbour (first in scan order), sweep after sweep.
 */
function fillUnreached(frag: Uint32Array, mask: Uint8Array, shape: Coordinate): void {
  const [nz, ny, nx] = shape;
  for (let changed = true; changed; ) {
    changed = false;
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const i = (z * ny + y) * nx + x;
          if (mask[i] === 0 || frag[i] !== 0) continue;
          search: for (let dz = -1; dz <= 1; dz++)
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++) {
                const zz = z + dz;
                const yy = y + dy;
                const xx = x + dx;
                if (zz < 0 || zz >= nz || yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
                const f = frag[(zz * ny + yy) * nx + xx]!;
                if (f !== 0) {
                  frag[i] = f;
                  changed = true;
                  break search;
                }
              }
        }
  }
}

/** numpy.quantile's default (linear) on sorted values. */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Root fragment of every fragment 1..nf after agglomeration (root[0] unused). */
function agglomerate(
  frag: Uint32Array,
  values: Float64Array | Float32Array,
  shape: Coordinate,
  nf: number,
  p: SplitParams,
): Uint32Array {
  const root = new Uint32Array(nf + 1);
  for (let f = 0; f <= nf; f++) root[f] = f;
  if (nf < 2) return root;
  const [nz, ny, nx] = shape;
  const peak = new Float64Array(nf + 1);
  const pairs = new Map<number, number[]>();
  const key = (a: number, b: number) => (a < b ? a * (nf + 1) + b : b * (nf + 1) + a);
  const add = (i: number, j: number) => {
    const a = frag[i]!;
    const b = frag[j]!;
    if (a === 0 || b === 0 || a === b) return;
    const k = key(a, b);
    let list = pairs.get(k);
    if (!list) pairs.set(k, (list = []));
    list.push(Math.min(values[i]!, values[j]!));
  };
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        const f = frag[i]!;
        if (f === 0) continue;
        if (values[i]! > peak[f]!) peak[f] = values[i]!;
        if (x + 1 < nx) add(i, i + 1);
        if (y + 1 < ny) add(i, i + nx);
        if (z + 1 < nz) add(i, i + nx * ny);
      }
  const score = (k: number, list: number[]) => {
    const a = Math.floor(k / (nf + 1));
    const b = k % (nf + 1);
    const sorted = Float64Array.from(list).sort();
    const q = quantileSorted(sorted, p.mergeQuantile);
    const m = Math.min(peak[a]!, peak[b]!);
    return m > 0 ? q / m : 0;
  };
  const scores = new Map<number, number>();
  for (const [k, list] of pairs) scores.set(k, score(k, list));
  for (;;) {
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const [k, s] of scores) {
      if (s > p.mergeThreshold && (s > bestScore || (s === bestScore && k < best))) {
        best = k;
        bestScore = s;
      }
    }
    if (best < 0) break;
    const a = Math.floor(best / (nf + 1));
    const b = best % (nf + 1);
    // b joins a (a < b): its pairs move to a, pooled with a's pair with the same neighbour.
    pairs.delete(best);
    scores.delete(best);
    peak[a] = Math.max(peak[a]!, peak[b]!);
    for (let f = 1; f <= nf; f++) if (root[f] === b) root[f] = a;
    const moved: [number, number[]][] = [];
    for (const [k, list] of pairs) {
      const u = Math.floor(k / (nf + 1));
      const v = k % (nf + 1);
      if (u === b || v === b) {
        moved.push([u === b ? v : u, list]);
        pairs.delete(k);
        scores.delete(k);
      }
    }
    for (const [c, list] of moved) {
      const k = key(a, c);
      const existing = pairs.get(k);
      if (existing) for (const v of list) existing.push(v);
      else pairs.set(k, list);
    }
    // Every pair with a changes: its boundary pooled or a's peak raised.
    for (const [k, list] of pairs) {
      const u = Math.floor(k / (nf + 1));
      const v = k % (nf + 1);
      if (u === a || v === a) scores.set(k, score(k, list));
    }
  }
  return root;
}

/** Voxel bounding boxes (begin z,y,x, end z,y,x exclusive) of the ids of a label volume, by id. */
export function labelBoxes(labels: Uint32Array, shape: Coordinate): Map<number, number[]> {
  const [nz, ny, nx] = shape;
  const boxes = new Map<number, number[]>();
  let last = 0;
  let box: number[] | undefined;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const v = labels[(z * ny + y) * nx + x]!;
        if (v === 0) continue;
        if (v !== last || !box) {
          last = v;
          box = boxes.get(v);
          if (!box) {
            box = [z, y, x, z + 1, y + 1, x + 1];
            boxes.set(v, box);
            continue;
          }
        }
        if (z < box[0]!) box[0] = z;
        if (y < box[1]!) box[1] = y;
        if (x < box[2]!) box[2] = x;
        if (z + 1 > box[3]!) box[3] = z + 1;
        if (y + 1 > box[4]!) box[4] = y + 1;
        if (x + 1 > box[5]!) box[5] = x + 1;
      }
  return boxes;
}

/**
 * New ids for the pieces of split objects: piece 1 keeps the object's id, pieces 2..k get ids after
 * `maxId`, in order of object id then piece. `counts` maps each id to its piece count; returns, per
 * split object (ascending id), the id of its piece 2.
 */
export function assignSplitIds(counts: ReadonlyMap<number, number>, maxId: number): Map<number, number> {
  const bases = new Map<number, number>();
  let next = maxId + 1;
  for (const id of [...counts.keys()].sort((a, b) => a - b)) {
    const k = counts.get(id)!;
    if (k < 2) continue;
    bases.set(id, next);
    next += k - 1;
  }
  if (next - 1 > 0xffffffff)
    throw invalidArgument("split: more than 2^32 - 1 ids; raise --min-seed-distance");
  return bases;
}

/** The crop of `box` (voxel begin/end) grown by one voxel, zeros outside the volume. */
export function cropBox(box: readonly number[]): { begin: Coordinate; shape: Coordinate } {
  return {
    begin: coord(box[0]! - 1, box[1]! - 1, box[2]! - 1),
    shape: coord(box[3]! - box[0]! + 2, box[4]! - box[1]! + 2, box[5]! - box[2]! + 2),
  };
}

function copyCrop<T extends Uint32Array | Float32Array>(
  src: T,
  shape: Coordinate,
  begin: Coordinate,
  cshape: Coordinate,
  out: T,
): T {
  const [nz, ny, nx] = shape;
  for (let z = 0; z < cshape[0]; z++) {
    const gz = begin[0] + z;
    if (gz < 0 || gz >= nz) continue;
    for (let y = 0; y < cshape[1]; y++) {
      const gy = begin[1] + y;
      if (gy < 0 || gy >= ny) continue;
      for (let x = 0; x < cshape[2]; x++) {
        const gx = begin[2] + x;
        if (gx < 0 || gx >= nx) continue;
        out[(z * cshape[1] + y) * cshape[2] + x] = src[(gz * ny + gy) * nx + gx]!;
      }
    }
  }
  return out;
}

/**
 * The whole split on a label volume in memory (the reference the block-wise run equals): every id
 * split from its box crop, pieces numbered by `assignSplitIds` after the volume's maximum id.
 */
export function splitLabels(
  labels: Uint32Array,
  shape: Coordinate,
  voxelSize: Coordinate,
  p: SplitParams,
  prediction?: Float32Array,
): { labels: Uint32Array; split: number; added: number } {
  checkSplitParams(p);
  const boxes = labelBoxes(labels, shape);
  let maxId = 0;
  for (const id of boxes.keys()) if (id > maxId) maxId = id;
  const results = new Map<number, { begin: Coordinate; cshape: Coordinate; pieces: Uint32Array }>();
  const counts = new Map<number, number>();
  for (const id of [...boxes.keys()].sort((a, b) => a - b)) {
    const { begin, shape: cshape } = cropBox(boxes.get(id)!);
    const n = cshape[0] * cshape[1] * cshape[2];
    const crop = copyCrop(labels, shape, begin, cshape, new Uint32Array(n));
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = crop[i] === id ? 1 : 0;
    const pred = prediction ? copyCrop(prediction, shape, begin, cshape, new Float32Array(n)) : undefined;
    const r = splitObject(mask, cshape, voxelSize, p, pred);
    counts.set(id, r.count);
    if (r.count > 1) results.set(id, { begin, cshape, pieces: r.pieces });
  }
  const bases = assignSplitIds(counts, maxId);
  const out = labels.slice();
  let added = 0;
  for (const [id, { begin, cshape, pieces }] of results) {
    const base = bases.get(id)!;
    added += counts.get(id)! - 1;
    for (let z = 0; z < cshape[0]; z++)
      for (let y = 0; y < cshape[1]; y++)
        for (let x = 0; x < cshape[2]; x++) {
          const piece = pieces[(z * cshape[1] + y) * cshape[2] + x]!;
          if (piece < 2) continue;
          out[((begin[0] + z) * shape[1] + begin[1] + y) * shape[2] + begin[2] + x] = base + piece - 2;
        }
  }
  return { labels: out, split: results.size, added };
}
