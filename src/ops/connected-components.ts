import type { Coordinate } from "../core/coordinate.ts";
import { format } from "../core/coordinate.ts";
import { invalidArgument, invalidData } from "../core/errors.ts";
import { fillSpan, type RowRuns, rowRuns } from "./runs.ts";
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
 * label l of a run is painted as map[l].
 */
export function paintRunLabels(rl: RunLabels, out: Uint32Array, map?: Uint32Array): void {
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
      fillSpan(out, s, t, map ? map[lab[i]!]! : lab[i]!);
      pos = t;
    }
    fillSpan(out, pos, o + nx, 0);
  }
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
  paintRunLabels(rl, labels);
  return { labels, count: rl.count };
}

// ---------------------------------------------------------------------------------------------
// Block-wise labelling: label blocks independently, merge across block boundaries, relabel.

/** The six outermost voxel layers of a block's local labels, each a C-order plane. */
export interface BlockFaces {
  /** z = 0 and z = nz-1 planes, ny*nx each. */
  readonly zLo: Uint32Array;
  readonly zHi: Uint32Array;
  /** y = 0 and y = ny-1 planes, nz*nx each. */
  readonly yLo: Uint32Array;
  readonly yHi: Uint32Array;
  /** x = 0 and x = nx-1 planes, nz*ny each. */
  readonly xLo: Uint32Array;
  readonly xHi: Uint32Array;
}

/**
 * What the merge needs from one labelled block (small and structured-clonable, so a worker can hand
 * it back while the block's local labels stay in a temporary array).
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

/**
 * Labels one block on its own (no context needed: blocks are glued by their faces). The local ids
 * are 1..count; `summary` goes to mergeBlockLabels, `labels` stays with the block for relabelBlock.
 */
export function labelBlock(
  mask: Uint8Array,
  shape: Coordinate,
  options: LabelOptions = {},
): BlockLabelResult {
  const n = checkVolume(mask, shape, "block labelling");
  const connectivity = checkConnectivity(options.connectivity ?? 6, "block labelling");
  const labels = outOrNew(options.out, n, (k) => new Uint32Array(k), "block labelling");
  const rl = labelRuns(rowRuns(mask, shape, options.ofZeros ?? false), connectivity);
  paintRunLabels(rl, labels);
  const count = rl.count;
  const sizes = new Float64Array(count + 1);
  const first = new Float64Array(count + 1).fill(-1);
  const { rowStart, x0, x1 } = rl.runs;
  const nx = shape[2];
  for (let r = 0; r + 1 < rowStart.length; r++) {
    for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
      const v = rl.runLabel[i]!;
      sizes[v] = sizes[v]! + x1[i]! - x0[i]!;
      if (first[v] === -1) first[v] = r * nx + x0[i]!;
    }
  }
  return { labels, count, summary: { shape, count, sizes, first, faces: blockFaces(labels, shape) } };
}

/** Extracts the six boundary planes of a label block. */
export function blockFaces(labels: Uint32Array, shape: Coordinate): BlockFaces {
  const [nz, ny, nx] = shape;
  const plane = ny * nx;
  const zLo = labels.slice(0, plane);
  const zHi = labels.slice((nz - 1) * plane, nz * plane);
  const yLo = new Uint32Array(nz * nx);
  const yHi = new Uint32Array(nz * nx);
  const xLo = new Uint32Array(nz * ny);
  const xHi = new Uint32Array(nz * ny);
  for (let z = 0; z < nz; z++) {
    yLo.set(labels.subarray(z * plane, z * plane + nx), z * nx);
    yHi.set(labels.subarray(z * plane + (ny - 1) * nx, z * plane + ny * nx), z * nx);
    for (let y = 0; y < ny; y++) {
      const o = z * plane + y * nx;
      xLo[z * ny + y] = labels[o]!;
      xHi[z * ny + y] = labels[o + nx - 1]!;
    }
  }
  return { zLo, zHi, yLo, yHi, xLo, xHi };
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
 * Merges independently labelled blocks into globally consistent components. The volume (shape in
 * voxels) is tiled by `blockShape` from its origin, the last blocks along each axis shrunk to fit;
 * `blocks[id]` is the summary of the block with row-major grid index `id` (the block-wise planner's
 * ids). Two local labels are joined when voxels of them on either side of a block boundary are
 * neighbours under `connectivity` — which covers blocks touching only by an edge or a corner, since
 * every voxel pair across a boundary is seen on that boundary's global plane. Global ids follow the
 * raster order of each component's first voxel, so a block-wise result equals connectedComponents
 * on the whole volume voxel for voxel.
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

  // For each axis and each internal boundary, assemble the global planes just below and just above
  // the boundary as node ids (-1 = background) and union neighbours across it.
  const inPlane = IN_PLANE_OFFSETS[connectivity];
  for (let axis = 0; axis < 3; axis++) {
    // plane axes (u, v) are the other two axes in z,y,x order
    const ua = axis === 0 ? 1 : 0;
    const va = axis === 2 ? 1 : 2;
    const NU = volumeShape[ua]!;
    const NV = volumeShape[va]!;
    const lower = new Int32Array(NU * NV);
    const upper = new Int32Array(NU * NV);
    const gAxis = grid[axis]!;
    for (let g = 1; g < gAxis; g++) {
      fillBoundaryPlane(lower, NV, blocks, grid, offsets, axis, g - 1, true);
      fillBoundaryPlane(upper, NV, blocks, grid, offsets, axis, g, false);
      for (let u = 0; u < NU; u++) {
        for (let v = 0; v < NV; v++) {
          const a = lower[u * NV + v]!;
          if (a < 0) continue;
          for (let k = 0; k < inPlane.length; k += 2) {
            const uu = u + inPlane[k]!;
            const vv = v + inPlane[k + 1]!;
            if (uu < 0 || uu >= NU || vv < 0 || vv >= NV) continue;
            const b = upper[uu * NV + vv]!;
            if (b < 0) continue;
            let ra = a;
            while (parent[ra] !== ra) {
              const p = parent[parent[ra]!]!;
              parent[ra] = p;
              ra = p;
            }
            let rb = b;
            while (parent[rb] !== rb) {
              const p = parent[parent[rb]!]!;
              parent[rb] = p;
              rb = p;
            }
            if (ra < rb) parent[rb] = ra;
            else if (rb < ra) parent[ra] = rb;
          }
        }
      }
    }
    // outer border of the volume along this axis
    for (const [g, hi] of [
      [0, false],
      [gAxis - 1, true],
    ] as const) {
      fillBoundaryPlane(lower, NV, blocks, grid, offsets, axis, g, hi);
      for (let i = 0; i < lower.length; i++) {
        const a = lower[i]!;
        if (a >= 0) border[a] = 1;
      }
    }
  }

  // Roots, then per root: total size, border flag and the earliest first voxel in global raster order.
  const rootFirst = new Float64Array(nodes).fill(Number.POSITIVE_INFINITY);
  const rootSize = new Float64Array(nodes);
  const rootBorder = new Uint8Array(nodes);
  const root = new Int32Array(nodes);
  for (let b = 0; b < nBlocks; b++) {
    const s = blocks[b]!;
    const bz = Math.floor(b / (gy * gx));
    const by = Math.floor(b / gx) % gy;
    const bx = b % gx;
    const [, sy, sx] = s.shape;
    const oz = bz * blockShape[0];
    const oy = by * blockShape[1];
    const ox = bx * blockShape[2];
    const base = offsets[b]!;
    for (let l = 1; l <= s.count; l++) {
      const node = base + l - 1;
      let r = node;
      while (parent[r] !== r) r = parent[r]!;
      root[node] = r;
      const f = s.first[l]!;
      const lz = Math.floor(f / (sy * sx));
      const rem = f - lz * sy * sx;
      const ly = Math.floor(rem / sx);
      const lx = rem - ly * sx;
      const gf = ((oz + lz) * NY + (oy + ly)) * NX + (ox + lx);
      if (gf < rootFirst[r]!) rootFirst[r] = gf;
      rootSize[r] = rootSize[r]! + s.sizes[l]!;
      rootBorder[r] = rootBorder[r]! | border[node]!;
    }
  }
  const roots: number[] = [];
  for (let i = 0; i < nodes; i++) if (root[i] === i) roots.push(i);
  roots.sort((p, q) => rootFirst[p]! - rootFirst[q]!);
  const idOfRoot = new Uint32Array(nodes);
  const count = roots.length;
  const sizes = new Float64Array(count + 1);
  const touchesBorder = new Uint8Array(count + 1);
  for (let k = 0; k < count; k++) {
    const r = roots[k]!;
    idOfRoot[r] = k + 1;
    sizes[k + 1] = rootSize[r]!;
    touchesBorder[k + 1] = rootBorder[r]!;
  }
  const globalOf = new Uint32Array(nodes);
  for (let i = 0; i < nodes; i++) globalOf[i] = idOfRoot[root[i]!]!;
  return { count, grid, offsets, globalOf, sizes, touchesBorder };
}

/** In-plane offsets (du, dv) of the voxels across a boundary plane that touch a voxel under each connectivity. */
const IN_PLANE_OFFSETS: Record<Connectivity, readonly number[]> = {
  6: [0, 0],
  18: [0, 0, -1, 0, 1, 0, 0, -1, 0, 1],
  26: [0, 0, -1, 0, 1, 0, 0, -1, 0, 1, -1, -1, -1, 1, 1, -1, 1, 1],
};

/**
 * Writes into `plane` (global, u/v = the other two axes in z,y,x order, `width` voxels along v) the
 * node ids of the layer of blocks at grid position `g` along `axis`: their last voxel layer if `hi`,
 * else their first; -1 where background.
 */
function fillBoundaryPlane(
  plane: Int32Array,
  width: number,
  blocks: readonly BlockLabelSummary[],
  grid: Coordinate,
  offsets: Float64Array,
  axis: number,
  g: number,
  hi: boolean,
): void {
  const ua = axis === 0 ? 1 : 0;
  const va = axis === 2 ? 1 : 2;
  const idx = [0, 0, 0];
  idx[axis] = g;
  let u0 = 0;
  for (let i = 0; i < grid[ua]!; i++) {
    idx[ua] = i;
    let v0 = 0;
    let su = 0;
    for (let j = 0; j < grid[va]!; j++) {
      idx[va] = j;
      const b = (idx[0]! * grid[1] + idx[1]!) * grid[2] + idx[2]!;
      const s = blocks[b]!;
      su = s.shape[ua]!;
      const sv = s.shape[va]!;
      const faces = s.faces;
      const f =
        axis === 0
          ? hi
            ? faces.zHi
            : faces.zLo
          : axis === 1
            ? hi
              ? faces.yHi
              : faces.yLo
            : hi
              ? faces.xHi
              : faces.xLo;
      const base = offsets[b]! - 1;
      for (let u = 0; u < su; u++) {
        const dst = (u0 + u) * width + v0;
        const src = u * sv;
        for (let v = 0; v < sv; v++) {
          const l = f[src + v]!;
          plane[dst + v] = l === 0 ? -1 : base + l;
        }
      }
      v0 += sv;
    }
    u0 += su;
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

/**
 * The last step of a block-wise labelling in one pass: labels the block again exactly as labelBlock
 * did (the same local ids) and paints `map[local]` (blockLabelMap) straight from the runs, without
 * the local label volume, its summary and a second pass. Fails if the block's components do not
 * match the map (the mask changed since it was labelled).
 */
export function relabelMaskBlock(
  mask: Uint8Array,
  shape: Coordinate,
  map: Uint32Array,
  options: LabelOptions = {},
): Uint32Array {
  const n = checkVolume(mask, shape, "relabel block");
  const connectivity = checkConnectivity(options.connectivity ?? 6, "relabel block");
  const out = outOrNew(options.out, n, (k) => new Uint32Array(k), "relabel block");
  const rl = labelRuns(rowRuns(mask, shape, options.ofZeros ?? false), connectivity);
  if (map.length !== rl.count + 1) {
    throw invalidData(
      `relabel block: the block has ${rl.count} components but its map ${map.length - 1} (was the mask changed since it was labelled?)`,
    );
  }
  paintRunLabels(rl, out, map);
  return out;
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
