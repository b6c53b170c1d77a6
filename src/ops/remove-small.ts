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
  paintRunsMask(rl.runs, rl.runLabel, keep, 0, out, undefined, options.out === undefined);
  return out;
}

/**
 * Label image without the ids that have fewer than `minSize` voxels in total (they become 0). Returns
 * a new array of the same type unless `out` is given (which may be `labels` itself).
 *
 * The output starts as a copy of the input (one memcpy), then one pass over the voxels in runs of
 * one id counts each id and remembers the runs of ids that were still below `minSize` when seen.
 * Only those runs are visited again, to clear the ids that stayed small: far fewer than the voxels,
 * so each voxel is read once and written about once.
 */
export function removeSmallLabels<T extends LabelArray>(labels: T, minSize: number, out?: T): T {
  checkMinSize(minSize, "remove small labels");
  const n = labels.length;
  const dst = out ?? (new (labels.constructor as new (n: number) => T)(n) as T);
  if (dst.length !== n)
    throw invalidArgument(`remove small labels: out has ${dst.length} elements, expected ${n}`);
  if (n === 0) return dst;
  if ((dst as LabelArray) !== (labels as LabelArray)) (dst as Uint32Array).set(labels as Uint32Array);
  // Dense ids: counted in a table that grows with the largest id seen; ids beyond denseLimit switch
  // to counting in a map.
  const denseLimit = 4 * n + 1024;
  let counts = new Float64Array(Math.min(1024, denseLimit));
  // runs of ids below minSize when seen: start, end, id (growable); past maxPending the second
  // visit scans every voxel instead
  const maxPending = Math.max(1024, n >>> 3);
  let pending = new Float64Array(3 * 1024);
  let pendingCount = 0;
  let overflow = false;
  let i = 0;
  while (i < n) {
    const v = labels[i]!;
    const s = i;
    i++;
    while (i < n && labels[i] === v) i++;
    if (v < 0) throw invalidArgument(`remove small labels: negative label ${v}; ids must be >= 0`);
    if (v >= counts.length) {
      if (v >= denseLimit) return removeSmallSparse(labels, minSize, dst);
      const grown = new Float64Array(Math.min(denseLimit, Math.max(v + 1, 2 * counts.length)));
      grown.set(counts);
      counts = grown;
    }
    const before = counts[v]!;
    counts[v] = before + (i - s);
    if (v !== 0 && before < minSize && !overflow) {
      if (pendingCount === maxPending) overflow = true;
      else {
        if (3 * pendingCount === pending.length) {
          const grown = new Float64Array(2 * pending.length);
          grown.set(pending);
          pending = grown;
        }
        pending[3 * pendingCount] = s;
        pending[3 * pendingCount + 1] = i;
        pending[3 * pendingCount + 2] = v;
        pendingCount++;
      }
    }
  }
  if (overflow) {
    for (let k = 0; k < n; k++) {
      const v = dst[k]!;
      if (v !== 0 && counts[v]! < minSize) dst[k] = 0;
    }
    return dst;
  }
  for (let k = 0; k < pendingCount; k++) {
    const v = pending[3 * k + 2]!;
    if (counts[v]! < minSize) fillRun(dst, pending[3 * k]!, pending[3 * k + 1]!, 0);
  }
  return dst;
}

/** dst[s..e) = v: a plain loop for short runs, where a native fill call costs more than it saves. */
function fillRun(dst: LabelArray, s: number, e: number, v: number): void {
  if (e - s > 16) dst.fill(v, s, e);
  else for (let k = s; k < e; k++) dst[k] = v;
}

/** Sparse ids (e.g. hashed or global instance ids): counted in a map. */
function removeSmallSparse<T extends LabelArray>(labels: T, minSize: number, dst: T): T {
  const n = labels.length;
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
 * Block-wise remove small objects, step 2 of 3: after labelBlockRuns (or labelBlock) on every block
 * and mergeBlockLabels, the table of block `blockId`'s local labels to keep (1) or drop (0), judged
 * by the size of the global component each belongs to. Step 3 paints it from the block's kept runs
 * (runs.ts paintRunsMask with gap 0), or applyKeepTable applies it to a local label volume.
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

/** Step 3 from a label volume: the block's mask from its local labels and its keep table (0/1). */
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
