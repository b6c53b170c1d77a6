import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { type BlockLabelMerge, labelRuns } from "./connected-components.ts";
import { paintRunsMask, rowRuns } from "./runs.ts";
import { type Connectivity, checkConnectivity, checkVolume, type LabelArray, outOrNew } from "./volume3d.ts";

/**
 * skimage.morphology.remove_small_objects: drop connected components with fewer than `minSize`
 * voxels. For a binary mask the components are found with the given connectivity; for a label
 * image each id is one object whatever its connectivity (skimage's behaviour for integer input).
 */

export interface RemoveSmallOptions {
  /** Connectivity of a binary mask's components: 6 (skimage connectivity=1, default), 18 or 26. */
  connectivity?: Connectivity;
  out?: Uint8Array;
}

function checkMinSize(minSize: number, what: string): void {
  if (!(Number.isFinite(minSize) && minSize >= 0)) {
    throw invalidArgument(`${what}: minimum size ${minSize} must be a number of voxels >= 0`);
  }
}

/** Binary mask without its components smaller than `minSize` voxels (0/1 output). */
export function removeSmallObjects(
  mask: Uint8Array,
  shape: Coordinate,
  minSize: number,
  options: RemoveSmallOptions = {},
): Uint8Array {
  const n = checkVolume(mask, shape, "remove small objects");
  checkMinSize(minSize, "remove small objects");
  const conn = checkConnectivity(options.connectivity ?? 6, "remove small objects");
  const out = outOrNew(options.out, n, (k) => new Uint8Array(k), "remove small objects");
  const rl = labelRuns(rowRuns(mask, shape), conn);
  const { x0, x1 } = rl.runs;
  const sizes = new Float64Array(rl.count + 1);
  for (let i = 0; i < rl.runs.count; i++) {
    const l = rl.runLabel[i]!;
    sizes[l] = sizes[l]! + x1[i]! - x0[i]!;
  }
  const keep = new Uint8Array(rl.count + 1);
  for (let l = 1; l <= rl.count; l++) keep[l] = sizes[l]! >= minSize ? 1 : 0;
  paintRunsMask(rl.runs, rl.runLabel, keep, 0, out);
  return out;
}

/**
 * Label image without the ids that have fewer than `minSize` voxels in total (they become 0). Returns
 * a new array of the same type unless `out` is given (which may be `labels` itself).
 */
export function removeSmallLabels<T extends LabelArray>(labels: T, minSize: number, out?: T): T {
  checkMinSize(minSize, "remove small labels");
  const n = labels.length;
  const dst = out ?? (new (labels.constructor as new (n: number) => T)(n) as T);
  if (dst.length !== n)
    throw invalidArgument(`remove small labels: out has ${dst.length} elements, expected ${n}`);
  if (n === 0) return dst;
  // Dense ids: count run by run (label images come in long runs of one id) into a table that grows
  // with the largest id seen; ids beyond denseLimit switch to counting in a map.
  const denseLimit = 4 * n + 1024;
  let counts = new Float64Array(Math.min(1024, denseLimit));
  let prev = labels[0]!;
  let run = 0;
  let sparse = false;
  for (let i = 0; i <= n; i++) {
    // i === n flushes the last run
    if (i < n && labels[i] === prev) {
      run++;
      continue;
    }
    if (prev < 0) throw invalidArgument(`remove small labels: negative label ${prev}; ids must be >= 0`);
    if (prev >= counts.length) {
      if (prev >= denseLimit) {
        sparse = true;
        break;
      }
      const grown = new Float64Array(Math.min(denseLimit, Math.max(prev + 1, 2 * counts.length)));
      grown.set(counts);
      counts = grown;
    }
    counts[prev] = counts[prev]! + run;
    if (i < n) prev = labels[i]!;
    run = 1;
  }
  if (!sparse) {
    const keep = new Uint32Array(counts.length);
    for (let v = 0; v < counts.length; v++) keep[v] = counts[v]! >= minSize ? v : 0;
    let last = -1;
    let mapped = 0;
    for (let i = 0; i < n; i++) {
      const v = labels[i]!;
      if (v !== last) {
        last = v;
        mapped = keep[v]!;
      }
      dst[i] = mapped;
    }
    return dst;
  }
  // sparse ids (e.g. hashed or global instance ids): count in a map
  const map = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = labels[i]!;
    if (v < 0) throw invalidArgument(`remove small labels: negative label ${v}; ids must be >= 0`);
    map.set(v, (map.get(v) ?? 0) + 1);
  }
  for (let i = 0; i < n; i++) {
    const v = labels[i]!;
    dst[i] = map.get(v)! < minSize ? 0 : v;
  }
  return dst;
}

/**
 * Block-wise remove small objects, step 2 of 3: after labelBlock on every block and
 * mergeBlockLabels, the table of block `blockId`'s local labels to keep (1) or drop (0), judged by
 * the size of the global component each belongs to.
 */
export function keepLargeTable(merge: BlockLabelMerge, blockId: number, minSize: number): Uint8Array {
  checkMinSize(minSize, "remove small objects (block)");
  const base = merge.offsets[blockId];
  const end = merge.offsets[blockId + 1];
  if (base === undefined || end === undefined) {
    throw invalidArgument(`remove small objects: block ${blockId} is not in the merged grid`);
  }
  const table = new Uint8Array(end - base + 1);
  for (let l = 1; l < table.length; l++) {
    table[l] = merge.sizes[merge.globalOf[base + l - 1]!]! >= minSize ? 1 : 0;
  }
  return table;
}

/** Step 3: the block's mask from its local labels and its keep table (0/1 output). */
export function applyKeepTable(localLabels: Uint32Array, table: Uint8Array, out?: Uint8Array): Uint8Array {
  const dst = outOrNew(out, localLabels.length, (k) => new Uint8Array(k), "apply keep table");
  for (let i = 0; i < localLabels.length; i++) {
    const t = table[localLabels[i]!];
    if (t === undefined)
      throw invalidArgument(`apply keep table: local label ${localLabels[i]} has no entry`);
    dst[i] = t;
  }
  return dst;
}
