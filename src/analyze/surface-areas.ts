import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import {
  AreaSums,
  type CellRange,
  caseAreas,
  cornerConfig,
  EDGES,
  type IdArray,
  TRIANGLES,
  triangleArea,
} from "./marching-cubes.ts";

/*
 * The two marching-cubes areas of every id of an instance array over a range of cells (cubes between
 * 8 voxel centres, lower corner at voxel i):
 *
 *   binary:   the mesh of the 0/1 mask of the id, vertices at edge midpoints (as
 *             skimage.measure.marching_cubes at 0.5): a table lookup per cell (caseAreas);
 *   smoothed: the 0.5 iso-surface, with interpolated vertices, of the id's mask averaged over 3x3x3
 *             voxels. A cell reads the 3x3x3 counts of its 8 corners, i.e. the 4^3 voxels from i - 1
 *             to i + 2.
 *
 * Where those 4^3 voxels hold a single non-zero id — nearly every cell, objects rarely touch — the id's
 * count at a corner is the count of non-zero voxels, so 3x3x3 box sums of the non-zero mask, computed
 * once, give the 8 counts in 8 reads, and the binary configuration is the cell's non-zero corners. Only
 * cells whose neighbourhood holds several ids recount the 27 voxels of each corner per id (216 reads per
 * id). Both paths feed the same arithmetic with the same integer counts, in the same cell order, so the
 * areas are equal to the last bit (`perIdOnly` runs the recount everywhere; the tests compare).
 *
 * The work goes plane by plane (PlaneRings): per voxel plane the in-plane 3x3 box sums and 4x4 id
 * summaries (0 none, an id, or MIXED), in rings of 4 planes, each row computed only over the span of x
 * where the data near it is non-zero (zeros filled elsewhere); a cell combines 4 planes. Memory is a
 * few planes, not a copy of the block.
 */

/**
 * The summary of a neighbourhood with several non-zero ids. Summaries are int32 (ids above 2^31 wrap,
 * and an id that wraps to -1 takes the exact path too), so the hot loops stay on small integers.
 */
const MIXED = -1;

export interface SurfaceAreaOptions {
  /** Recount every cell per id (the reference path). */
  readonly perIdOnly?: boolean;
}

export interface SurfaceAreas {
  /** nm^2 per id, binary marching cubes. */
  readonly binary: Map<number, number>;
  /** nm^2 per id, marching cubes of the 3x3x3 average. */
  readonly smoothed: Map<number, number>;
}

/**
 * The binary and smoothed areas (nm^2) of every non-zero id of `data` (shape z,y,x) over the cells
 * whose lower corner lies in `cells`; each such cell needs 1 voxel below and 2 above it inside `data`.
 */
export function surfaceAreas(
  data: IdArray,
  shape: Coordinate,
  cells: CellRange,
  voxelSize: Coordinate,
  opts: SurfaceAreaOptions = {},
): SurfaceAreas {
  const [nz, ny, nx] = shape;
  if (data.length !== nz * ny * nx) throw invalidArgument("surface areas: data length does not match shape");
  const binary = new AreaSums();
  const smoothed = new AreaSums();
  if (cells.end[0] <= cells.begin[0] || cells.end[1] <= cells.begin[1] || cells.end[2] <= cells.begin[2]) {
    return { binary: binary.toMap(), smoothed: smoothed.toMap() };
  }
  for (let d = 0; d < 3; d++) {
    if (cells.begin[d]! < 1 || cells.end[d]! + 2 > shape[d]!) {
      throw invalidArgument(
        `surface areas: the cell range needs 1 voxel below and 2 above it inside the data (axis ${d})`,
      );
    }
  }
  const perIdOnly = opts.perIdOnly === true;
  const unsigned = !(data instanceof Int32Array);
  const binaryAreas = caseAreas(voxelSize);
  const plane = ny * nx;
  const sy = nx;
  const sz = plane;
  const rings = new PlaneRings(data, ny, nx);
  const { xyIds, xyQuad, box3 } = rings;
  const span = new Int32Array(2);

  const corner = new Int32Array(8);
  for (let k = 0; k < 8; k++) corner[k] = (k & 1) + ((k >> 1) & 1) * sy + ((k >> 2) & 1) * sz;
  const window = new Int32Array(27);
  for (let dz = -1, w = 0; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) window[w++] = dx + dy * sy + dz * sz;
  const hood = new Int32Array(64);
  for (let dz = -1, w = 0; dz <= 2; dz++)
    for (let dy = -1; dy <= 2; dy++) for (let dx = -1; dx <= 2; dx++) hood[w++] = dx + dy * sy + dz * sz;
  const hoodIds = new Float64Array(64);
  const cornerIds = new Float64Array(8);
  const counts = new Int32Array(8);
  const memo = new CellAreaMemo(
    (cells.end[0] - cells.begin[0]) * (cells.end[1] - cells.begin[1]) * (cells.end[2] - cells.begin[2]),
    voxelSize,
  );

  let computed = cells.begin[0] - 2;
  for (let z = cells.begin[0]; z < cells.end[0]; z++) {
    while (computed < z + 2) rings.fill(++computed);
    if (z === cells.begin[0]) rings.sumPlanes(z);
    rings.sumPlanes(z + 1);
    const lo = box3[z & 1]!;
    const hi = box3[(z + 1) & 1]!;
    const i0 = xyIds[(z - 1) & 3]!;
    const i1 = xyIds[z & 3]!;
    const i2 = xyIds[(z + 1) & 3]!;
    const i3 = xyIds[(z + 2) & 3]!;
    const q0 = xyQuad[z & 3]!;
    const q1 = xyQuad[(z + 1) & 3]!;
    const slots = [(z - 1) & 3, z & 3, (z + 1) & 3, (z + 2) & 3];
    for (let y = cells.begin[1]; y < cells.end[1]; y++) {
      rings.spanOf(slots, y, span);
      const xEnd = Math.min(cells.end[2], span[1]! + 1);
      for (let x = Math.max(cells.begin[2], span[0]!); x < xEnd; x++) {
        const j = y * nx + x;
        const a0 = i0[j]!;
        const a1 = i1[j]!;
        const a2 = i2[j]!;
        const a3 = i3[j]!;
        if ((a0 | a1 | a2 | a3) === 0) continue;
        const single = a0 === a1 && a1 === a2 && a2 === a3 ? a0 : join(join(join(a0, a1), a2), a3);
        if (single !== MIXED && !perIdOnly) {
          const c0 = lo[j]!;
          const c1 = lo[j + 1]!;
          const c2 = lo[j + nx]!;
          const c3 = lo[j + nx + 1]!;
          const c4 = hi[j]!;
          const c5 = hi[j + 1]!;
          const c6 = hi[j + nx]!;
          const c7 = hi[j + nx + 1]!;
          // Inside an object: no surface of either kind.
          if (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 === 216) continue;
          const id = unsigned ? single >>> 0 : single;
          // Binary: the corners that are non-zero (all of them are this id).
          const bin = q0[j]! | (q1[j]! << 4);
          if (bin !== 0 && bin !== 255) binary.add(id, binaryAreas[bin]!);
          const config =
            (c0 > 13 ? 1 : 0) |
            (c1 > 13 ? 2 : 0) |
            (c2 > 13 ? 4 : 0) |
            (c3 > 13 ? 8 : 0) |
            (c4 > 13 ? 16 : 0) |
            (c5 > 13 ? 32 : 0) |
            (c6 > 13 ? 64 : 0) |
            (c7 > 13 ? 128 : 0);
          if (config === 0 || config === 255) continue;
          counts[0] = c0;
          counts[1] = c1;
          counts[2] = c2;
          counts[3] = c3;
          counts[4] = c4;
          counts[5] = c5;
          counts[6] = c6;
          counts[7] = c7;
          smoothed.add(id, memo.area(counts, config));
          continue;
        }
        // Several ids (or the reference path). Binary: each id of the 8 corners, in corner order.
        const i = z * sz + y * sy + x;
        for (let k = 0; k < 8; k++) cornerIds[k] = data[i + corner[k]!]!;
        for (let k = 0; k < 8; k++) {
          const config = cornerConfig(cornerIds, k);
          if (config !== 0 && config !== 255) binary.add(cornerIds[k]!, binaryAreas[config]!);
        }
        // Smoothed: recount each id's 27 voxels at every corner.
        let nIds = 0;
        for (let h = 0; h < 64; h++) {
          const v = data[i + hood[h]!]!;
          if (v === 0) continue;
          let known = false;
          for (let q = 0; q < nIds; q++) {
            if (hoodIds[q] === v) {
              known = true;
              break;
            }
          }
          if (!known) hoodIds[nIds++] = v;
        }
        for (let q = 0; q < nIds; q++) {
          const id = hoodIds[q]!;
          let config = 0;
          for (let k = 0; k < 8; k++) {
            const at = i + corner[k]!;
            let cnt = 0;
            for (let w = 0; w < 27; w++) if (data[at + window[w]!] === id) cnt++;
            counts[k] = cnt;
            if (cnt > 13) config |= 1 << k;
          }
          if (config === 0 || config === 255) continue;
          smoothed.add(id, memo.area(counts, config));
        }
      }
    }
  }
  return { binary: binary.toMap(), smoothed: smoothed.toMap() };
}

/** count / 27 for the counts 0..27. */
const FRACTION = Float64Array.from({ length: 28 }, (_, c) => c / 27);
const EDGE_A = Int8Array.from(EDGES, ([a]) => a);
const EDGE_B = Int8Array.from(EDGES, ([, b]) => b);
const EDGE_AXIS = Int8Array.from(EDGES, ([a, b]) => (b - a === 1 ? 0 : b - a === 2 ? 1 : 2));

/** The id summary of two summaries: 0 none, an id, or MIXED. */
function join(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0 || b === a) return a;
  return MIXED;
}

/**
 * Smoothed areas of cells by their 8 corner counts. Along a surface the same count patterns recur (on
 * the bench's cell ~1 cell in 8 brings a new one), so a hash probe replaces most of the 12 edge
 * interpolations and up to 5 cross products; the stored value is the one computed, bit for bit.
 */
class CellAreaMemo {
  private readonly mask: number;
  private readonly shift: number;
  /** Counts 0-5 (5 bits each) and 6-7 of the stored patterns; keyHi -1 marks an empty slot. */
  private readonly keyLo: Int32Array;
  private readonly keyHi: Int32Array;
  private readonly areas: Float64Array;
  private readonly limit: number;
  private used = 0;
  private readonly f = new Float64Array(8);
  private readonly vert = new Float64Array(36);
  private readonly s0: number;
  private readonly s1: number;
  private readonly s2: number;

  constructor(cells: number, voxelSize: Coordinate) {
    const bits = Math.max(10, Math.min(17, Math.ceil(Math.log2(Math.max(1, cells / 16)))));
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    this.keyLo = new Int32Array(1 << bits);
    this.keyHi = new Int32Array(1 << bits).fill(-1);
    this.areas = new Float64Array(1 << bits);
    this.limit = (3 << bits) >> 2;
    this.s0 = voxelSize[2];
    this.s1 = voxelSize[1];
    this.s2 = voxelSize[0];
  }

  area(counts: Int32Array, config: number): number {
    const lo =
      counts[0]! |
      (counts[1]! << 5) |
      (counts[2]! << 10) |
      (counts[3]! << 15) |
      (counts[4]! << 20) |
      (counts[5]! << 25);
    const hi = counts[6]! | (counts[7]! << 5);
    let h = (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca6b)) >>> this.shift;
    for (;;) {
      const k = this.keyHi[h]!;
      if (k === -1) break;
      if (k === hi && this.keyLo[h] === lo) return this.areas[h]!;
      h = (h + 1) & this.mask;
    }
    const a = cellArea(counts, config, this.f, this.vert, this.s0, this.s1, this.s2);
    if (this.used < this.limit) {
      this.keyLo[h] = lo;
      this.keyHi[h] = hi;
      this.areas[h] = a;
      this.used++;
    }
    return a;
  }
}

/** The area of one cell crossed by the surface, from its corners' 3x3x3 counts (out of 27). */
function cellArea(
  counts: Int32Array,
  config: number,
  f: Float64Array,
  vert: Float64Array,
  s0: number,
  s1: number,
  s2: number,
): number {
  for (let k = 0; k < 8; k++) f[k] = FRACTION[counts[k]!]!;
  // Edge e runs from corner a up one axis: along it the vertex sits at u, elsewhere at a's coordinate.
  for (let e = 0; e < 12; e++) {
    const a = EDGE_A[e]!;
    const fa = f[a]!;
    const fb = f[EDGE_B[e]!]!;
    if (fa > 0.5 === fb > 0.5) continue;
    const u = (0.5 - fa) / (fb - fa);
    const axis = EDGE_AXIS[e]!;
    vert[3 * e] = (axis === 0 ? u : a & 1) * s0;
    vert[3 * e + 1] = (axis === 1 ? u : (a >> 1) & 1) * s1;
    vert[3 * e + 2] = (axis === 2 ? u : (a >> 2) & 1) * s2;
  }
  const t = TRIANGLES[config]!;
  let area = 0;
  for (let q = 0; q < t.length; q += 3) area += triangleArea(vert, 3 * t[q]!, 3 * t[q + 1]!, 3 * t[q + 2]!);
  return area;
}

/**
 * Per voxel plane p of the data: the in-plane 3x3 box sums of the non-zero mask, the 4x4 id summaries
 * and the 2x2 non-zero bits, in rings of 4 planes (slot p & 3), and the 3x3x3 box sums of a plane
 * (slot p & 1). Per row, the span of x [lo, hi] outside which a ring row is all zeros (lo > hi: the
 * whole row). A class rather than closures, so the optimised code of its loops serves every call.
 */
class PlaneRings {
  readonly xyBox: Uint8Array[];
  readonly xyIds: Int32Array[];
  /** Bits of the 2x2 voxels (x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1) that are non-zero. */
  readonly xyQuad: Uint8Array[];
  readonly xyLo: Int32Array[];
  readonly xyHi: Int32Array[];
  readonly box3: Uint8Array[];
  private readonly rowBox: Uint8Array;
  private readonly rowIds: Int32Array;
  private readonly rowPair: Uint8Array;
  private readonly rowLo: Int32Array;
  private readonly rowHi: Int32Array;
  private readonly span = new Int32Array(2);
  private readonly plane: number;

  constructor(
    private readonly data: IdArray,
    private readonly ny: number,
    private readonly nx: number,
  ) {
    const plane = ny * nx;
    this.plane = plane;
    this.xyBox = [0, 1, 2, 3].map(() => new Uint8Array(plane));
    this.xyIds = [0, 1, 2, 3].map(() => new Int32Array(plane));
    this.xyQuad = [0, 1, 2, 3].map(() => new Uint8Array(plane));
    this.xyLo = [0, 1, 2, 3].map(() => new Int32Array(ny));
    this.xyHi = [0, 1, 2, 3].map(() => new Int32Array(ny));
    this.box3 = [new Uint8Array(plane), new Uint8Array(plane)];
    this.rowBox = new Uint8Array(plane);
    this.rowIds = new Int32Array(plane);
    this.rowPair = new Uint8Array(plane);
    this.rowLo = new Int32Array(ny);
    this.rowHi = new Int32Array(ny);
  }

  /** Computes voxel plane p into its ring slot. */
  fill(p: number): void {
    const { data, ny, nx, plane, rowBox, rowIds, rowPair, rowLo, rowHi } = this;
    const { xyBox, xyIds, xyQuad, xyLo, xyHi } = this;
    const box = xyBox[p & 3]!;
    const ids = xyIds[p & 3]!;
    const quad = xyQuad[p & 3]!;
    const spanLo = xyLo[p & 3]!;
    const spanHi = xyHi[p & 3]!;
    const base = p * plane;
    // Along x: 3-voxel counts of non-zero voxels and the id summary of [x - 1, x + 2], from a window of
    // 4 values shifted along the row (raw ids here; the Int32Array stores them as int32). Non-zero
    // only within [first non-zero - 2, last non-zero + 1].
    for (let y = 0; y < ny; y++) {
      const row = base + y * nx;
      const o = y * nx;
      let first = 0;
      while (first < nx && data[row + first] === 0) first++;
      if (first === nx) {
        rowLo[y] = 1;
        rowHi[y] = 0;
        rowBox.fill(0, o, o + nx);
        rowIds.fill(0, o, o + nx);
        rowPair.fill(0, o, o + nx);
        continue;
      }
      let last = nx - 1;
      while (data[row + last] === 0) last--;
      const lo = Math.max(0, first - 2);
      const hi = Math.min(nx - 1, last + 1);
      rowLo[y] = lo;
      rowHi[y] = hi;
      rowBox.fill(0, o, o + lo);
      rowIds.fill(0, o, o + lo);
      rowPair.fill(0, o, o + lo);
      rowBox.fill(0, o + hi + 1, o + nx);
      rowIds.fill(0, o + hi + 1, o + nx);
      rowPair.fill(0, o + hi + 1, o + nx);
      let vm = lo > 0 ? data[row + lo - 1]! : 0;
      let v0 = data[row + lo]!;
      let v1 = lo + 1 < nx ? data[row + lo + 1]! : 0;
      for (let x = lo; x <= hi; x++) {
        const v2 = x + 2 < nx ? data[row + x + 2]! : 0;
        if ((vm | v0 | v1 | v2) === 0) {
          rowBox[o + x] = 0;
          rowIds[o + x] = 0;
          rowPair[o + x] = 0;
        } else {
          const n0 = v0 !== 0 ? 1 : 0;
          const n1 = v1 !== 0 ? 1 : 0;
          rowBox[o + x] = (vm !== 0 ? 1 : 0) + n0 + n1;
          rowPair[o + x] = n0 | (n1 << 1);
          rowIds[o + x] = vm === v0 && v0 === v1 && v1 === v2 ? v0 : join(join(join(vm, v0), v1), v2);
        }
        vm = v0;
        v0 = v1;
        v1 = v2;
      }
    }
    // Along y: rows y - 1 .. y + 2, within the union of their spans.
    for (let y = 0; y < ny; y++) {
      const o = y * nx;
      let lo = rowLo[y]!;
      let hi = rowHi[y]!;
      for (let d = -1; d <= 2; d++) {
        if (d === 0 || y + d < 0 || y + d >= ny || rowLo[y + d]! > rowHi[y + d]!) continue;
        if (lo > hi) {
          lo = rowLo[y + d]!;
          hi = rowHi[y + d]!;
        } else {
          lo = Math.min(lo, rowLo[y + d]!);
          hi = Math.max(hi, rowHi[y + d]!);
        }
      }
      spanLo[y] = lo;
      spanHi[y] = hi;
      if (lo > hi) {
        box.fill(0, o, o + nx);
        ids.fill(0, o, o + nx);
        quad.fill(0, o, o + nx);
        continue;
      }
      box.fill(0, o, o + lo);
      ids.fill(0, o, o + lo);
      quad.fill(0, o, o + lo);
      box.fill(0, o + hi + 1, o + nx);
      ids.fill(0, o + hi + 1, o + nx);
      quad.fill(0, o + hi + 1, o + nx);
      const up = y > 0 ? o - nx : -1;
      const d1 = y + 1 < ny ? o + nx : -1;
      const d2 = y + 2 < ny ? o + 2 * nx : -1;
      for (let x = lo; x <= hi; x++) {
        const r0 = up >= 0 ? rowIds[up + x]! : 0;
        const r1 = rowIds[o + x]!;
        const r2 = d1 >= 0 ? rowIds[d1 + x]! : 0;
        const r3 = d2 >= 0 ? rowIds[d2 + x]! : 0;
        if ((r0 | r1 | r2 | r3) === 0) {
          box[o + x] = 0;
          ids[o + x] = 0;
          quad[o + x] = 0;
          continue;
        }
        box[o + x] = (up >= 0 ? rowBox[up + x]! : 0) + rowBox[o + x]! + (d1 >= 0 ? rowBox[d1 + x]! : 0);
        quad[o + x] = rowPair[o + x]! | ((d1 >= 0 ? rowPair[d1 + x]! : 0) << 2);
        ids[o + x] = r0 === r1 && r1 === r2 && r2 === r3 ? r0 : join(join(join(r0, r1), r2), r3);
      }
    }
  }

  /** The span of row y over ring slots, or lo > hi. */
  spanOf(slots: readonly number[], y: number, out: Int32Array): void {
    const { xyLo, xyHi } = this;
    let lo = 1;
    let hi = 0;
    for (const q of slots) {
      const l = xyLo[q]![y]!;
      const h = xyHi[q]![y]!;
      if (l > h) continue;
      if (lo > hi) {
        lo = l;
        hi = h;
      } else {
        lo = Math.min(lo, l);
        hi = Math.max(hi, h);
      }
    }
    out[0] = lo;
    out[1] = hi;
  }

  /** The 3x3x3 box sums of plane p from the rings of planes p - 1 .. p + 1. */
  sumPlanes(p: number): void {
    const { xyBox, box3, ny, nx, span } = this;
    const a = xyBox[(p - 1) & 3]!;
    const b = xyBox[p & 3]!;
    const c = xyBox[(p + 1) & 3]!;
    const slots = [(p - 1) & 3, p & 3, (p + 1) & 3];
    const o = box3[p & 1]!;
    for (let y = 0; y < ny; y++) {
      const r = y * nx;
      this.spanOf(slots, y, span);
      const lo = span[0]!;
      const hi = span[1]!;
      if (lo > hi) {
        o.fill(0, r, r + nx);
        continue;
      }
      o.fill(0, r, r + lo);
      o.fill(0, r + hi + 1, r + nx);
      for (let j = r + lo; j <= r + hi; j++) o[j] = a[j]! + b[j]! + c[j]!;
    }
  }
}
