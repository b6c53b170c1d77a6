import type { Coordinate } from "../core/coordinate.ts";
import { format } from "../core/coordinate.ts";
import { invalidArgument, invalidData } from "../core/errors.ts";
import { fillSpan, type Placement, paintRunValues, type RowRuns, rowRuns } from "./runs.ts";
import { type Connectivity, checkConnectivity, checkVolume, outOrNew } from "./volume3d.ts";

export type { Connectivity } from "./volume3d.ts";

/**
 * Connected components by union-find over x-runs. Runs are linked only to runs of earlier rows, and a
 * union always hangs the later root under the earlier one, so every component's root is its first
 * run in raster order and the final ids come out in order of each component's first voxel — the
 * numbering of scipy.ndimage.label, so results compare voxel for voxel.
 */

export interface LabelOptions {
  /** 6 (faces, scipy's default), 18 (faces+edges) or 26 (faces+edges+corners). Default 6. */
  connectivity?: Connectivity;
  /** Label the zero voxels instead of the non-zero ones (for hole filling). Default false. */
  ofZeros?: boolean;
  /** Output buffer to reuse (length = voxel count). */
  out?: Uint32Array;
}

export interface LabelResult {
  /** 0 = background, 1..count = component ids numbered in raster order of their first voxel. */
  readonly labels: Uint32Array;
  readonly count: number;
}

/** Components of `runs` as one id per run (in place of the union-find parents) and their count. */
export interface RunLabels {
  readonly runs: RowRuns;
  /** Component id (1..count) of each run. */
  readonly runLabel: Int32Array;
  readonly count: number;
}

/**
 * Rows (dz, dy) earlier in raster order that can touch a run, and how far (0 or 1 voxel) a run in
 * that row may be offset along x and still touch (diagonal contacts).
 */
const EARLIER_ROWS: Record<Connectivity, readonly number[]> = {
  6: [0, -1, 0, -1, 0, 0],
  18: [0, -1, 1, -1, 0, 1, -1, -1, 0, -1, 1, 0],
  26: [0, -1, 1, -1, -1, 1, -1, 0, 1, -1, 1, 1],
};

/** Labels the runs of a volume; `runLabel[i]` is the component id of run i. */
export function labelRuns(runs: RowRuns, connectivity: Connectivity): RunLabels {
  const [nz, ny] = runs.shape;
  const { rowStart, x0, x1 } = runs;
  const parent = new Int32Array(runs.count);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const nb = EARLIER_ROWS[connectivity];
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const r = z * ny + y;
      const a0 = rowStart[r]!;
      const a1 = rowStart[r + 1]!;
      if (a0 === a1) continue;
      for (let k = 0; k < nb.length; k += 3) {
        const zz = z + nb[k]!;
        const yy = y + nb[k + 1]!;
        if (zz < 0 || yy < 0 || yy >= ny) continue;
        const ext = nb[k + 2]!;
        const r2 = zz * ny + yy;
        let j = rowStart[r2]!;
        const b1 = rowStart[r2 + 1]!;
        let i = a0;
        while (i < a1 && j < b1) {
          const ai0 = x0[i]!;
          const ai1 = x1[i]!;
          const bj0 = x0[j]!;
          const bj1 = x1[j]!;
          if (bj1 + ext <= ai0) {
            j++;
          } else if (ai1 + ext <= bj0) {
            i++;
          } else {
            // union(i, j) keeping the smaller (earlier) root
            let ri = i;
            while (parent[ri] !== ri) {
              const g = parent[parent[ri]!]!;
              parent[ri] = g;
              ri = g;
            }
            let rj = j;
            while (parent[rj] !== rj) {
              const g = parent[parent[rj]!]!;
              parent[rj] = g;
              rj = g;
            }
            if (ri < rj) parent[rj] = ri;
            else if (rj < ri) parent[ri] = rj;
            if (ai1 < bj1) i++;
            else j++;
          }
        }
      }
    }
  }
  // parent[i] < i for every non-root, so one forward pass resolves roots and numbers them in order;
  // the labels overwrite the parents in place (parent[p] for p < i already holds p's label).
  let count = 0;
  for (let i = 0; i < parent.length; i++) {
    const p = parent[i]!;
    parent[i] = p === i ? ++count : parent[p]!;
  }
  return { runs, runLabel: parent, count };
}

/**
 * Paints run labels into a label volume, zeros elsewhere, writing every voxel once; with `map`, the
 * label l of a run is painted as map[l]; with `at`, into a larger volume; with `outIsZero` (a fresh
 * output), only the runs are written (runs.ts paintRunValues).
 */
export function paintRunLabels(
  rl: RunLabels,
  out: Uint32Array,
  map?: Uint32Array,
  at?: Placement,
  outIsZero = false,
): void {
  if (map !== undefined || at !== undefined || outIsZero) {
    paintRunValues(rl.runs, rl.runLabel, map ?? identity(rl.count), 0, out, at, outIsZero);
    return;
  }
  const { rowStart, x0, x1 } = rl.runs;
  const nx = rl.runs.shape[2];
  const rows = rowStart.length - 1;
  const lab = rl.runLabel;
  for (let r = 0; r < rows; r++) {
    const o = r * nx;
    let pos = o;
    for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
      const s = o + x0[i]!;
      const t = o + x1[i]!;
      fillSpan(out, pos, s, 0);
      fillSpan(out, s, t, lab[i]!);
      pos = t;
    }
    fillSpan(out, pos, o + nx, 0);
  }
}

function identity(count: number): Uint32Array {
  const m = new Uint32Array(count + 1);
  for (let i = 0; i <= count; i++) m[i] = i;
  return m;
}

/**
 * Connected components of the non-zero voxels (scipy.ndimage.label with
 * generate_binary_structure(3, 1|2|3) for connectivity 6|18|26): identical ids, uint32.
 */
export function connectedComponents(
  mask: Uint8Array,
  shape: Coordinate,
  options: LabelOptions = {},
): LabelResult {
  const n = checkVolume(mask, shape, "connected components");
  const connectivity = checkConnectivity(options.connectivity ?? 6, "connected components");
  const labels = outOrNew(options.out, n, (k) => new Uint32Array(k), "connected components");
  const rl = labelRuns(rowRuns(mask, shape, options.ofZeros ?? false), connectivity);
  paintRunLabels(rl, labels, undefined, undefined, options.out === undefined);
  return { labels, count: rl.count };
}

// ---------------------------------------------------------------------------------------------
// Block-wise labelling: every block labelled once on its own (its runs and their local ids kept),
// a small summary per block merged across block boundaries, then global ids painted from the runs.

/**
 * One face of a block as runs, each of one local label. A face is a plane (u, v) of the two other
 * axes in z,y,x order; row u holds runs rowStart[u] .. rowStart[u+1]-1, run i covering v in
 * [v0[i], v1[i]). Blobby objects cross a face in a few runs per row, so the merge handles far fewer
 * items than face voxels.
 */
export interface FaceRuns {
  readonly rowStart: Int32Array;
  readonly v0: Int32Array;
  readonly v1: Int32Array;
  readonly label: Int32Array;
}

/** The six outermost voxel layers of a labelled block. */
export interface BlockFaces {
  /** z = 0 and z = nz-1: rows y, runs along x. */
  readonly zLo: FaceRuns;
  readonly zHi: FaceRuns;
  /** y = 0 and y = ny-1: rows z, runs along x. */
  readonly yLo: FaceRuns;
  readonly yHi: FaceRuns;
  /** x = 0 and x = nx-1: rows z, runs along y. */
  readonly xLo: FaceRuns;
  readonly xHi: FaceRuns;
}

/**
 * What the merge needs from one labelled block (small and structured-clonable, so a worker can hand
 * it back while the block's runs stay with the block).
 */
export interface BlockLabelSummary {
  /** Block shape in voxels. */
  readonly shape: Coordinate;
  readonly count: number;
  /** Voxel count of each local label (index 1..count; index 0 unused). */
  readonly sizes: Float64Array;
  /** Block-local linear index of each local label's first voxel in raster order (index 1..count). */
  readonly first: Float64Array;
  readonly faces: BlockFaces;
}

export interface BlockLabelResult extends LabelResult {
  readonly summary: BlockLabelSummary;
}

/** A block labelled once: its runs with their local ids (for the final paint) and its summary. */
export interface BlockRunLabels {
  readonly runLabels: RunLabels;
  readonly summary: BlockLabelSummary;
}

/**
 * Labels one block on its own (no context needed: blocks are glued by their faces) without painting
 * a label volume: `summary` goes to mergeBlockLabels, `runLabels` stays with the block until
 * paintRunLabels (or paintRunsMask) writes the merged result.
 */
export function labelBlockRuns(
  mask: Uint8Array,
  shape: Coordinate,
  options: Omit<LabelOptions, "out"> = {},
): BlockRunLabels {
  checkVolume(mask, shape, "block labelling");
  const connectivity = checkConnectivity(options.connectivity ?? 6, "block labelling");
  const runLabels = labelRuns(rowRuns(mask, shape, options.ofZeros ?? false), connectivity);
  return { runLabels, summary: summariseRunLabels(runLabels) };
}

/**
 * labelBlockRuns plus the block's local label volume (ids 1..count), for callers that keep labels
 * rather than runs (relabelBlock).
 */
export function labelBlock(
  mask: Uint8Array,
  shape: Coordinate,
  options: LabelOptions = {},
): BlockLabelResult {
  const n = checkVolume(mask, shape, "block labelling");
  const labels = outOrNew(options.out, n, (k) => new Uint32Array(k), "block labelling");
  const { runLabels, summary } = labelBlockRuns(mask, shape, options);
  paintRunLabels(runLabels, labels, undefined, undefined, options.out === undefined);
  return { labels, count: runLabels.count, summary };
}

/** The merge's summary of a labelled block, from its runs alone. */
export function summariseRunLabels(rl: RunLabels): BlockLabelSummary {
  const { shape, rowStart, x0, x1 } = rl.runs;
  const [nz, ny, nx] = shape;
  const count = rl.count;
  const lab = rl.runLabel;
  const sizes = new Float64Array(count + 1);
  const first = new Float64Array(count + 1);
  // labels are numbered in raster order of first runs, so label `seen + 1` is always the next new one
  let seen = 0;
  const rows = rowStart.length - 1;
  for (let r = 0; r < rows; r++) {
    for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
      const v = lab[i]!;
      sizes[v] = sizes[v]! + x1[i]! - x0[i]!;
      if (v > seen) {
        seen = v;
        first[v] = r * nx + x0[i]!;
      }
    }
  }
  const faces: BlockFaces = {
    zLo: rowFace(rl, 0, 1, ny),
    zHi: rowFace(rl, (nz - 1) * ny, 1, ny),
    yLo: rowFace(rl, 0, ny, nz),
    yHi: rowFace(rl, ny - 1, ny, nz),
    xLo: columnFace(rl, false),
    xHi: columnFace(rl, true),
  };
  return { shape, count, sizes, first, faces };
}

/** A face made of whole block rows: rows first, first+step, ... (`n` of them). */
function rowFace(rl: RunLabels, firstRow: number, step: number, n: number): FaceRuns {
  const { rowStart, x0, x1 } = rl.runs;
  let total = 0;
  for (let u = 0, r = firstRow; u < n; u++, r += step) total += rowStart[r + 1]! - rowStart[r]!;
  const face = {
    rowStart: new Int32Array(n + 1),
    v0: new Int32Array(total),
    v1: new Int32Array(total),
    label: new Int32Array(total),
  };
  let k = 0;
  for (let u = 0, r = firstRow; u < n; u++, r += step) {
    face.rowStart[u] = k;
    const s = rowStart[r]!;
    const e = rowStart[r + 1]!;
    face.v0.set(x0.subarray(s, e), k);
    face.v1.set(x1.subarray(s, e), k);
    face.label.set(rl.runLabel.subarray(s, e), k);
    k += e - s;
  }
  face.rowStart[n] = k;
  return face;
}

/** The x = 0 (or x = nx-1 when `hi`) face: rows z, runs along y of voxels with one label. */
function columnFace(rl: RunLabels, hi: boolean): FaceRuns {
  const { shape, rowStart, x0, x1 } = rl.runs;
  const [nz, ny, nx] = shape;
  const lab = rl.runLabel;
  const faceRows = new Int32Array(nz + 1);
  // at most one run per two voxels of a face row
  const cap = nz * ((ny + 1) >> 1);
  const v0 = new Int32Array(cap);
  const v1 = new Int32Array(cap);
  const label = new Int32Array(cap);
  let k = 0;
  for (let z = 0; z < nz; z++) {
    faceRows[z] = k;
    let open = 0;
    for (let y = 0; y < ny; y++) {
      const r = z * ny + y;
      const a = rowStart[r]!;
      const b = rowStart[r + 1]!;
      let l = 0;
      if (a !== b) {
        if (hi) l = x1[b - 1] === nx ? lab[b - 1]! : 0;
        else l = x0[a] === 0 ? lab[a]! : 0;
      }
      if (l === open && l !== 0) {
        v1[k - 1] = y + 1;
        continue;
      }
      open = l;
      if (l === 0) continue;
      v0[k] = y;
      v1[k] = y + 1;
      label[k] = l;
      k++;
    }
  }
  faceRows[nz] = k;
  return { rowStart: faceRows, v0: v0.slice(0, k), v1: v1.slice(0, k), label: label.slice(0, k) };
}

/** Global ids for every block's local labels, numbered like a whole-volume labelling would. */
export interface BlockLabelMerge {
  /** Number of global components. */
  readonly count: number;
  /** Number of blocks in the grid (z,y,x). */
  readonly grid: Coordinate;
  /** Node of block b's local label l is offsets[b] + l - 1. */
  readonly offsets: Float64Array;
  /** Global id (1..count) of each node. */
  readonly globalOf: Uint32Array;
  /** Voxel count of each global component (index 1..count). */
  readonly sizes: Float64Array;
  /** 1 where the global component touches the outer border of the volume (index 1..count). */
  readonly touchesBorder: Uint8Array;
}

/** Block grid (z,y,x) for a volume tiled by blocks of `blockShape` from the origin, last ones shrunk. */
export function blockGrid(volumeShape: Coordinate, blockShape: Coordinate): Coordinate {
  return [
    Math.ceil(volumeShape[0] / blockShape[0]),
    Math.ceil(volumeShape[1] / blockShape[1]),
    Math.ceil(volumeShape[2] / blockShape[2]),
  ];
}

/**
 * Rows (du) across a boundary plane that hold voxels touching a voxel, each with how far (ext, 0 or
 * 1 voxel) a run there may be offset along v and still touch.
 */
const ACROSS: Record<Connectivity, readonly number[]> = {
  6: [0, 0],
  18: [0, 1, -1, 0, 1, 0],
  26: [0, 1, -1, 1, 1, 1],
};

/** A boundary plane of the whole volume as runs of merge nodes (rows u, runs along v). */
interface PlaneRuns {
  readonly rowStart: Int32Array;
  readonly v0: Int32Array;
  readonly v1: Int32Array;
  readonly node: Int32Array;
}

/**
 * Merges independently labelled blocks into globally consistent components. The volume (shape in
 * voxels) is tiled by `blockShape` from its origin, the last blocks along each axis shrunk to fit;
 * `blocks[id]` is the summary of the block with row-major grid index `id` (the block-wise planner's
 * ids). Two local labels are joined when voxels of them on either side of a block boundary are
 * neighbours under `connectivity` — which covers blocks touching only by an edge or a corner, since
 * every voxel pair across a boundary is seen on that boundary's global plane. Global ids follow the
 * raster order of each component's first voxel, so a block-wise result equals connectedComponents
 * on the whole volume voxel for voxel. The work is proportional to the runs on the block faces.
 */
export function mergeBlockLabels(
  volumeShape: Coordinate,
  blockShape: Coordinate,
  blocks: readonly BlockLabelSummary[],
  connectivity: Connectivity = 6,
): BlockLabelMerge {
  checkConnectivity(connectivity, "block label merge");
  const grid = blockGrid(volumeShape, blockShape);
  const [gz, gy, gx] = grid;
  const nBlocks = gz * gy * gx;
  if (blocks.length !== nBlocks) {
    throw invalidArgument(
      `block label merge: ${blocks.length} block summaries for a grid of ${format(grid)} = ${nBlocks} blocks`,
    );
  }
  const [NZ, NY, NX] = volumeShape;
  const offsets = new Float64Array(nBlocks + 1);
  for (let b = 0; b < nBlocks; b++) {
    const s = blocks[b]!;
    const bz = Math.floor(b / (gy * gx));
    const by = Math.floor(b / gx) % gy;
    const bx = b % gx;
    const expect: Coordinate = [
      Math.min(blockShape[0], NZ - bz * blockShape[0]),
      Math.min(blockShape[1], NY - by * blockShape[1]),
      Math.min(blockShape[2], NX - bx * blockShape[2]),
    ];
    if (s.shape[0] !== expect[0] || s.shape[1] !== expect[1] || s.shape[2] !== expect[2]) {
      throw invalidArgument(
        `block label merge: block ${b} has shape ${format(s.shape)}, expected ${format(expect)}`,
      );
    }
    offsets[b + 1] = offsets[b]! + s.count;
  }
  const nodes = offsets[nBlocks]!;
  if (nodes >= 2 ** 31) throw invalidArgument(`block label merge: ${nodes} local labels exceed 2^31`);
  const parent = new Int32Array(nodes);
  for (let i = 0; i < nodes; i++) parent[i] = i;
  const border = new Uint8Array(nodes);

  const across = ACROSS[connectivity];
  for (let axis = 0; axis < 3; axis++) {
    const nu = volumeShape[axis === 0 ? 1 : 0]!;
    const gAxis = grid[axis]!;
    for (let g = 1; g < gAxis; g++) {
      const lower = boundaryPlane(blocks, grid, offsets, axis, g - 1, true, nu);
      const upper = boundaryPlane(blocks, grid, offsets, axis, g, false, nu);
      uniteAcross(lower, upper, nu, across, parent);
    }
    // outer border of the volume along this axis
    for (const [g, hi] of [
      [0, false],
      [gAxis - 1, true],
    ] as const) {
      forLayer(grid, axis, g, (b) => {
        const f = faceOf(blocks[b]!.faces, axis, hi);
        const base = offsets[b]! - 1;
        for (let i = 0; i < f.label.length; i++) border[base + f.label[i]!] = 1;
      });
    }
  }

  // Roots, then per root: total size, border flag and the earliest first voxel in global raster order.
  const rootFirst = new Float64Array(nodes).fill(Number.POSITIVE_INFINITY);
  const rootSize = new Float64Array(nodes);
  const rootBorder = new Uint8Array(nodes);
  const root = new Int32Array(nodes);
  for (let b = 0; b < nBlocks; b++) {
    const s = blocks[b]!;
    const corner = [
      Math.floor(b / (gy * gx)) * blockShape[0],
      (Math.floor(b / gx) % gy) * blockShape[1],
      (b % gx) * blockShape[2],
    ] as const;
    rootsOfBlock(s, offsets[b]!, corner, volumeShape, parent, border, root, rootFirst, rootSize, rootBorder);
  }
  let count = 0;
  for (let i = 0; i < nodes; i++) if (root[i] === i) count++;
  const idOfRoot = new Uint32Array(nodes);
  const sizes = new Float64Array(count + 1);
  const touchesBorder = new Uint8Array(count + 1);
  const ranked = rankByFirst(root, rootFirst, count, NZ * NY * NX);
  for (let k = 0; k < count; k++) {
    const r = ranked[k]!;
    idOfRoot[r] = k + 1;
    sizes[k + 1] = rootSize[r]!;
    touchesBorder[k + 1] = rootBorder[r]!;
  }
  const globalOf = new Uint32Array(nodes);
  for (let i = 0; i < nodes; i++) globalOf[i] = idOfRoot[root[i]!]!;
  return { count, grid, offsets, globalOf, sizes, touchesBorder };
}

/**
 * For each local label of one block (merge nodes base .. base+count-1): its root (path compressed),
 * and into the root's entries the label's size, border flag and global first voxel (the earliest).
 */
function rootsOfBlock(
  s: BlockLabelSummary,
  base: number,
  corner: readonly [number, number, number],
  volumeShape: Coordinate,
  parent: Int32Array,
  border: Uint8Array,
  root: Int32Array,
  rootFirst: Float64Array,
  rootSize: Float64Array,
  rootBorder: Uint8Array,
): void {
  const sy = s.shape[1];
  const sx = s.shape[2];
  const plane = sy * sx;
  const NY = volumeShape[1];
  const NX = volumeShape[2];
  const first = s.first;
  const sizes = s.sizes;
  const count = s.count;
  for (let l = 1; l <= count; l++) {
    const node = base + l - 1;
    let r = node;
    while (parent[r] !== r) r = parent[r]!;
    parent[node] = r;
    root[node] = r;
    const f = first[l]!;
    const lz = Math.floor(f / plane);
    const rem = f - lz * plane;
    const ly = Math.floor(rem / sx);
    const gf = ((corner[0] + lz) * NY + corner[1] + ly) * NX + corner[2] + rem - ly * sx;
    if (gf < rootFirst[r]!) rootFirst[r] = gf;
    rootSize[r] = rootSize[r]! + sizes[l]!;
    rootBorder[r] = rootBorder[r]! | border[node]!;
  }
}

/**
 * The roots (root[i] === i) in order of their first voxels. The first voxels are distinct integers
 * below `voxels`, so (first, root) packed into one double sort natively (a comparator sort costs
 * several times more); past 2^53 the firsts are sorted alone and each root found by binary search.
 */
export function rankByFirst(
  root: Int32Array,
  rootFirst: Float64Array,
  count: number,
  voxels: number,
): Int32Array {
  const nodes = root.length;
  const ranked = new Int32Array(count);
  const keys = new Float64Array(count);
  if (voxels * nodes < 2 ** 53) {
    for (let i = 0, k = 0; i < nodes; i++) if (root[i] === i) keys[k++] = rootFirst[i]! * nodes + i;
    keys.sort();
    for (let k = 0; k < count; k++) ranked[k] = keys[k]! % nodes;
    return ranked;
  }
  for (let i = 0, k = 0; i < nodes; i++) if (root[i] === i) keys[k++] = rootFirst[i]!;
  keys.sort();
  for (let r = 0; r < nodes; r++) {
    if (root[r] !== r) continue;
    const f = rootFirst[r]!;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < f) lo = mid + 1;
      else hi = mid;
    }
    ranked[lo] = r;
  }
  return ranked;
}

function faceOf(faces: BlockFaces, axis: number, hi: boolean): FaceRuns {
  if (axis === 0) return hi ? faces.zHi : faces.zLo;
  if (axis === 1) return hi ? faces.yHi : faces.yLo;
  return hi ? faces.xHi : faces.xLo;
}

/** Calls `visit(blockId)` for the blocks at grid position `g` along `axis`, in (u, v) row-major order. */
function forLayer(
  grid: Coordinate,
  axis: number,
  g: number,
  visit: (b: number, i: number, j: number) => void,
) {
  const ua = axis === 0 ? 1 : 0;
  const va = axis === 2 ? 1 : 2;
  const idx = [0, 0, 0];
  idx[axis] = g;
  for (let i = 0; i < grid[ua]!; i++) {
    idx[ua] = i;
    for (let j = 0; j < grid[va]!; j++) {
      idx[va] = j;
      visit((idx[0]! * grid[1] + idx[1]!) * grid[2] + idx[2]!, i, j);
    }
  }
}

/**
 * The global plane (rows u = the first of the other two axes, `nu` rows) of the layer of blocks at
 * grid position `g` along `axis` — their last voxel layer if `hi`, else their first — as runs of
 * merge nodes, the blocks along v concatenated.
 */
function boundaryPlane(
  blocks: readonly BlockLabelSummary[],
  grid: Coordinate,
  offsets: Float64Array,
  axis: number,
  g: number,
  hi: boolean,
  nu: number,
): PlaneRuns {
  const ua = axis === 0 ? 1 : 0;
  const va = axis === 2 ? 1 : 2;
  let total = 0;
  forLayer(grid, axis, g, (b) => {
    total += faceOf(blocks[b]!.faces, axis, hi).label.length;
  });
  const plane = {
    rowStart: new Int32Array(nu + 1),
    v0: new Int32Array(total),
    v1: new Int32Array(total),
    node: new Int32Array(total),
  };
  const gv = grid[va]!;
  const row = new Int32Array(gv);
  let k = 0;
  let u0 = 0;
  for (let i = 0; i < grid[ua]!; i++) {
    forLayer(grid, axis, g, (b, bi, j) => {
      if (bi === i) row[j] = b;
    });
    const su = blocks[row[0]!]!.shape[ua]!;
    for (let u = 0; u < su; u++) {
      plane.rowStart[u0 + u] = k;
      let vOff = 0;
      for (let j = 0; j < gv; j++) {
        const b = row[j]!;
        const s = blocks[b]!;
        const f = faceOf(s.faces, axis, hi);
        const base = offsets[b]! - 1;
        for (let t = f.rowStart[u]!, e = f.rowStart[u + 1]!; t < e; t++, k++) {
          plane.v0[k] = f.v0[t]! + vOff;
          plane.v1[k] = f.v1[t]! + vOff;
          plane.node[k] = base + f.label[t]!;
        }
        vOff += s.shape[va]!;
      }
    }
    u0 += su;
  }
  plane.rowStart[nu] = k;
  return plane;
}

/** Joins the nodes of runs on either side of a boundary that touch under the `across` offsets. */
function uniteAcross(
  lower: PlaneRuns,
  upper: PlaneRuns,
  nu: number,
  across: readonly number[],
  parent: Int32Array,
): void {
  const { v0: a0s, v1: a1s, node: an } = lower;
  const { v0: b0s, v1: b1s, node: bn } = upper;
  for (let u = 0; u < nu; u++) {
    const a0 = lower.rowStart[u]!;
    const a1 = lower.rowStart[u + 1]!;
    if (a0 === a1) continue;
    for (let k = 0; k < across.length; k += 2) {
      const uu = u + across[k]!;
      if (uu < 0 || uu >= nu) continue;
      const ext = across[k + 1]!;
      let j = upper.rowStart[uu]!;
      const b1 = upper.rowStart[uu + 1]!;
      let i = a0;
      while (i < a1 && j < b1) {
        const ai0 = a0s[i]!;
        const ai1 = a1s[i]!;
        const bj0 = b0s[j]!;
        const bj1 = b1s[j]!;
        if (bj1 + ext <= ai0) {
          j++;
        } else if (ai1 + ext <= bj0) {
          i++;
        } else {
          let ra = an[i]!;
          while (parent[ra] !== ra) {
            const p = parent[parent[ra]!]!;
            parent[ra] = p;
            ra = p;
          }
          let rb = bn[j]!;
          while (parent[rb] !== rb) {
            const p = parent[parent[rb]!]!;
            parent[rb] = p;
            rb = p;
          }
          if (ra < rb) parent[rb] = ra;
          else if (rb < ra) parent[ra] = rb;
          if (ai1 < bj1) i++;
          else j++;
        }
      }
    }
  }
}

/**
 * The table that turns block `blockId`'s local labels into global ids: map[local] (map[0] = 0).
 * Small (count+1 entries), so a runner can send it to the worker that relabels the block.
 */
export function blockLabelMap(merge: BlockLabelMerge, blockId: number): Uint32Array {
  const base = merge.offsets[blockId];
  const end = merge.offsets[blockId + 1];
  if (base === undefined || end === undefined) {
    throw invalidArgument(`block label map: block ${blockId} is not in the merged grid`);
  }
  const map = new Uint32Array(end - base + 1);
  map.set(merge.globalOf.subarray(base, end), 1);
  return map;
}

/** Fails unless `map` has one entry per local label of `rl` (plus entry 0). */
export function checkMap(rl: RunLabels, map: { length: number }, what: string): void {
  if (map.length !== rl.count + 1) {
    throw invalidData(
      `${what}: the block has ${rl.count} components but its map ${map.length - 1} (was the mask changed since it was labelled?)`,
    );
  }
}

/** Applies a block's label map to its local labels (in place unless `out` is given). */
export function relabelBlock(labels: Uint32Array, map: Uint32Array, out: Uint32Array = labels): Uint32Array {
  if (out.length !== labels.length) {
    throw invalidArgument(`relabel block: out has ${out.length} elements, labels ${labels.length}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l !== 0) {
      const g = map[l];
      if (g === undefined) throw invalidArgument(`relabel block: local label ${l} is not in the block's map`);
      out[i] = g;
    } else out[i] = 0;
  }
  return out;
}
