import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { type BlockLabelMerge, labelRuns } from "./connected-components.ts";
import { paintRunsMask, rowRuns } from "./runs.ts";
import { type Connectivity, checkConnectivity, checkVolume, outOrNew } from "./volume3d.ts";

/**
 * Hole filling: a hole is a connected component of background voxels that does not touch the array
 * border (scipy.ndimage.binary_fill_holes, whose default background connectivity is 6).
 * `smallerThan` fills only holes with fewer voxels than that; `includeBorder` also counts background
 * components touching the border as holes, which with `smallerThan` is
 * skimage.morphology.remove_small_holes(area_threshold=smallerThan).
 */
export interface FillHolesOptions {
  /** Connectivity of the background components: 6 (default), 18 or 26. */
  connectivity?: Connectivity;
  /** Fill only holes with fewer than this many voxels. Default: fill all. */
  smallerThan?: number;
  /** Treat background components touching the array border as holes too. Default false. */
  includeBorder?: boolean;
  out?: Uint8Array;
}

function checkFillOptions(options: FillHolesOptions, what: string): number {
  const limit = options.smallerThan ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0)) throw invalidArgument(`${what}: smallerThan ${limit} must be a number of voxels >= 0`);
  return limit;
}

/** The mask with its holes filled (0/1 output). */
export function fillHoles(mask: Uint8Array, shape: Coordinate, options: FillHolesOptions = {}): Uint8Array {
  const n = checkVolume(mask, shape, "fill holes");
  const conn = checkConnectivity(options.connectivity ?? 6, "fill holes");
  const limit = checkFillOptions(options, "fill holes");
  const out = outOrNew(options.out, n, (k) => new Uint8Array(k), "fill holes");
  const [nz, ny, nx] = shape;
  const rl = labelRuns(rowRuns(mask, shape, true), conn);
  const { rowStart, x0, x1 } = rl.runs;
  const sizes = new Float64Array(rl.count + 1);
  const border = new Uint8Array(rl.count + 1);
  for (let z = 0, r = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++, r++) {
      const edgeRow = z === 0 || z === nz - 1 || y === 0 || y === ny - 1;
      for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
        const l = rl.runLabel[i]!;
        sizes[l] = sizes[l]! + x1[i]! - x0[i]!;
        if (edgeRow || x0[i] === 0 || x1[i] === nx) border[l] = 1;
      }
    }
  }
  const includeBorder = options.includeBorder ?? false;
  const fill = new Uint8Array(rl.count + 1);
  for (let l = 1; l <= rl.count; l++) {
    fill[l] = (includeBorder || border[l] === 0) && sizes[l]! < limit ? 1 : 0;
  }
  paintRunsMask(rl.runs, rl.runLabel, fill, 1, out);
  return out;
}

/**
 * Block-wise hole filling, step 2 of 3: after labelBlockRuns (or labelBlock) with `ofZeros: true` on
 * every block and mergeBlockLabels (with the same connectivity), the table of block `blockId`'s local
 * background labels to fill (1) or leave (0). Step 3 paints it from the block's kept runs
 * (runs.ts paintRunsMask with gap 1), or applyHoleTable applies it to a local label volume.
 */
export function holeTable(
  merge: BlockLabelMerge,
  blockId: number,
  options: FillHolesOptions = {},
): Uint8Array {
  const limit = checkFillOptions(options, "fill holes (block)");
  const base = merge.offsets[blockId];
  const end = merge.offsets[blockId + 1];
  if (base === undefined || end === undefined) {
    throw invalidArgument(`fill holes: block ${blockId} is not in the merged grid`);
  }
  const includeBorder = options.includeBorder ?? false;
  const table = new Uint8Array(end - base + 1);
  for (let l = 1; l < table.length; l++) {
    const g = merge.globalOf[base + l - 1]!;
    table[l] = (includeBorder || merge.touchesBorder[g] === 0) && merge.sizes[g]! < limit ? 1 : 0;
  }
  return table;
}

/** Step 3 from a label volume: the filled mask from the mask, its local background labels and the table. */
export function applyHoleTable(
  mask: Uint8Array,
  backgroundLabels: Uint32Array,
  table: Uint8Array,
  out?: Uint8Array,
): Uint8Array {
  if (backgroundLabels.length !== mask.length) {
    throw invalidArgument(
      `apply hole table: ${backgroundLabels.length} background labels for a mask of ${mask.length} voxels`,
    );
  }
  const dst = outOrNew(out, mask.length, (k) => new Uint8Array(k), "apply hole table");
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0) dst[i] = 1;
    else {
      const t = table[backgroundLabels[i]!];
      if (t === undefined)
        throw invalidArgument(`apply hole table: local label ${backgroundLabels[i]} has no entry`);
      dst[i] = t;
    }
  }
  return dst;
}
