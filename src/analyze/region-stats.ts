import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { IdArray } from "./marching-cubes.ts";
import { surfaceAreas } from "./surface-areas.ts";

/*
 * Per-instance measurements of a label array as sums that add up over blocks:
 *
 * - voxel count, sums of voxel indices (centre of mass), min/max index (bounding box): over the
 *   voxels a block owns (its write box);
 * - voxel-face area (COSEM's count of faces between an id and anything else, volume border included):
 *   the faces of the voxels a block owns, so each face is counted once;
 * - two marching-cubes areas, over the cells (cubes between 8 voxel centres) whose lower corner the
 *   block owns, plus the cells hanging off the low border of the volume (lower corner -1), so every
 *   cell of the zero-padded volume is counted once:
 *     binary:   the mesh of the 0/1 mask of the id (skimage.measure.marching_cubes at 0.5 on the
 *               padded mask + mesh_surface_area) — the staircase overestimates curved surfaces by ~8 %;
 *     smoothed: the 0.5 iso-surface, with interpolated vertices, of the mask averaged over 3x3x3 voxels
 *               — within ~1.5 % of the true area of spheres of radius >= 10 voxels; the reported
 *               "Surface Area".
 *
 * A block therefore reads its write box grown by 2 voxels on every side (zeros outside the volume);
 * `measureBlockData` takes that data. The whole-volume result is the one-block case.
 *
 * `measureBlockBelow` is the same measurement with the ownership shifted down (voxels from begin - 1,
 * cells from begin - 2; the first block on an axis from the border, the last one to the end), so a
 * block reads 3 voxels below its write box and none above: of the chunks around a block only those
 * below it are decoded, 27 instead of 64 chunks per block when blocks are two chunks wide. The
 * block-wise verb uses it; the sums are the same up to the order of the additions.
 */

/** Stats per id, in this order. */
export const STAT = {
  count: 0,
  sumZ: 1,
  sumY: 2,
  sumX: 3,
  minZ: 4,
  minY: 5,
  minX: 6,
  maxZ: 7,
  maxY: 8,
  maxX: 9,
  faceArea: 10,
  binaryArea: 11,
  smoothArea: 12,
} as const;
export const STAT_COUNT = 13;

/** The voxels the measurement needs around a block on every side. */
export const MEASURE_CONTEXT = 2;
/** The voxels `measureBlockBelow` reads below a block (and 2 above the volume's end for the last). */
export const MEASURE_BELOW = 3;

/** Sums of one block (or of several, merged): ids ascending, STAT_COUNT numbers per id. */
export interface RegionStats {
  readonly ids: number[];
  readonly stats: number[];
}

/**
 * Measures the block whose write box starts at global voxel `begin` with shape `size`, given `data`
 * = the write box grown by MEASURE_CONTEXT on every side (shape size + 4 per axis). `volumeShape`
 * tells which blocks own the low-border cells.
 */
export function measureBlockData(
  data: IdArray,
  begin: Coordinate,
  size: Coordinate,
  voxelSize: Coordinate,
): RegionStats {
  const c = MEASURE_CONTEXT;
  const shape = coord(size[0] + 2 * c, size[1] + 2 * c, size[2] + 2 * c);
  if (data.length !== shape[0] * shape[1] * shape[2]) {
    throw invalidArgument(
      `measure: block data has ${data.length} voxels, expected ${shape.join("x")} (write box + 2 per side)`,
    );
  }
  const acc = new Map<number, Float64Array>();
  const origin = coord(begin[0] - c, begin[1] - c, begin[2] - c);
  ownedVoxelStats(
    data,
    shape,
    origin,
    coord(c, c, c),
    coord(c + size[0], c + size[1], c + size[2]),
    voxelSize,
    acc,
  );
  const cellBegin = coord(
    c - (begin[0] === 0 ? 1 : 0),
    c - (begin[1] === 0 ? 1 : 0),
    c - (begin[2] === 0 ? 1 : 0),
  );
  const cellEnd = coord(c + size[0], c + size[1], c + size[2]);
  const areas = surfaceAreas(data, shape, { begin: cellBegin, end: cellEnd }, voxelSize);
  for (const [id, a] of areas.binary) add(statsOf(acc, id), STAT.binaryArea, a);
  for (const [id, a] of areas.smoothed) add(statsOf(acc, id), STAT.smoothArea, a);
  return toRegionStats(acc);
}

/**
 * The box of global voxels `measureBlockBelow` needs for the block [begin, begin + size) of a volume
 * of `volumeShape`: from begin - 3 to begin + size, + 2 where the block ends at the volume's end.
 */
export function measureBoxBelow(
  begin: Coordinate,
  size: Coordinate,
  volumeShape: Coordinate,
): { begin: Coordinate; shape: Coordinate } {
  const b = MEASURE_BELOW;
  const ext = (d: number) => size[d]! + b + (begin[d]! + size[d]! >= volumeShape[d]! ? 2 : 0);
  return { begin: coord(begin[0] - b, begin[1] - b, begin[2] - b), shape: coord(ext(0), ext(1), ext(2)) };
}

/**
 * Measures the block [begin, begin + size) of a volume of `volumeShape` from `data` = the box
 * `measureBoxBelow` gives (zeros outside the volume). Per axis the block owns the voxels from begin - 1
 * (0 for the first block) to begin + size - 1 (the volume's end for the last) and the cells whose lower
 * corner runs from begin - 2 (-1 for the first block) to begin + size - 2 (the end for the last).
 */
export function measureBlockBelow(
  data: IdArray,
  begin: Coordinate,
  size: Coordinate,
  volumeShape: Coordinate,
  voxelSize: Coordinate,
): RegionStats {
  const box = measureBoxBelow(begin, size, volumeShape);
  const shape = box.shape;
  if (data.length !== shape[0] * shape[1] * shape[2]) {
    throw invalidArgument(
      `measure: block data has ${data.length} voxels, expected ${shape.join("x")} (write box + 3 below, + 2 above at the volume's end)`,
    );
  }
  const b = MEASURE_BELOW;
  const last = (d: number) => begin[d]! + size[d]! >= volumeShape[d]!;
  // In data coordinates (global = data + begin - 3).
  const voxelLo = (d: number) => (begin[d] === 0 ? b : b - 1);
  const voxelHi = (d: number) => (last(d) ? size[d]! + b : size[d]! + b - 1);
  const cellLo = (d: number) => (begin[d] === 0 ? b - 1 : b - 2);
  const cellHi = (d: number) => (last(d) ? size[d]! + b : size[d]! + b - 2);
  const acc = new Map<number, Float64Array>();
  ownedVoxelStats(
    data,
    shape,
    box.begin,
    coord(voxelLo(0), voxelLo(1), voxelLo(2)),
    coord(voxelHi(0), voxelHi(1), voxelHi(2)),
    voxelSize,
    acc,
  );
  const cells = {
    begin: coord(cellLo(0), cellLo(1), cellLo(2)),
    end: coord(cellHi(0), cellHi(1), cellHi(2)),
  };
  const areas = surfaceAreas(data, shape, cells, voxelSize);
  for (const [id, a] of areas.binary) add(statsOf(acc, id), STAT.binaryArea, a);
  for (const [id, a] of areas.smoothed) add(statsOf(acc, id), STAT.smoothArea, a);
  return toRegionStats(acc);
}

/** The measurement of a whole array (one block with zero padding). */
export function measureVolume(data: IdArray, shape: Coordinate, voxelSize: Coordinate): RegionStats {
  const c = MEASURE_CONTEXT;
  const padded = coord(shape[0] + 2 * c, shape[1] + 2 * c, shape[2] + 2 * c);
  const p = new (data.constructor as new (n: number) => IdArray)(padded[0] * padded[1] * padded[2]);
  copyBox3d(data, shape, coord(0, 0, 0), p, padded, coord(c, c, c), shape);
  return measureBlockData(p, coord(0, 0, 0), shape, voxelSize);
}

function add(s: Float64Array, j: number, v: number): void {
  s[j] = s[j]! + v;
}

function statsOf(acc: Map<number, Float64Array>, id: number): Float64Array {
  let s = acc.get(id);
  if (!s) {
    s = new Float64Array(STAT_COUNT);
    s[STAT.minZ] = s[STAT.minY] = s[STAT.minX] = Number.POSITIVE_INFINITY;
    s[STAT.maxZ] = s[STAT.maxY] = s[STAT.maxX] = Number.NEGATIVE_INFINITY;
    acc.set(id, s);
  }
  return s;
}

/**
 * Counts, index sums, bounds and faces of the voxels [lo, hi) of `data` (global index = origin + data
 * index), the ones the block owns. Along x the voxels go by runs of
 * one id: the integer sums (exact in float64) and bounds are added once per run; the face areas are
 * added voxel by voxel in raster order, as a sum of floats must be to give the same bits every time.
 */
function ownedVoxelStats(
  data: IdArray,
  shape: Coordinate,
  origin: Coordinate,
  lo: Coordinate,
  hi: Coordinate,
  voxelSize: Coordinate,
  acc: Map<number, Float64Array>,
): void {
  const sy = shape[2];
  const sz = shape[1] * shape[2];
  const [vz, vy, vx] = voxelSize;
  const faceX = vy * vz;
  const faceY = vx * vz;
  const faceZ = vx * vy;
  let last = -1;
  let s: Float64Array = new Float64Array(STAT_COUNT);
  for (let z = lo[0]; z < hi[0]; z++) {
    const gz = origin[0] + z;
    for (let y = lo[1]; y < hi[1]; y++) {
      const gy = origin[1] + y;
      const row = z * sz + y * sy;
      let x = lo[2];
      while (x < hi[2]) {
        const v = data[row + x]!;
        if (v === 0) {
          x++;
          continue;
        }
        if (v !== last) {
          s = statsOf(acc, v);
          last = v;
        }
        const x0 = x;
        let faces = s[STAT.faceArea]!;
        for (; x < hi[2] && data[row + x] === v; x++) {
          const i = row + x;
          let f = 0;
          if (data[i - 1] !== v) f += faceX;
          if (data[i + 1] !== v) f += faceX;
          if (data[i - sy] !== v) f += faceY;
          if (data[i + sy] !== v) f += faceY;
          if (data[i - sz] !== v) f += faceZ;
          if (data[i + sz] !== v) f += faceZ;
          faces += f;
        }
        s[STAT.faceArea] = faces;
        const n = x - x0;
        const gx0 = origin[2] + x0;
        const gx1 = gx0 + n - 1;
        s[STAT.count] = s[STAT.count]! + n;
        s[STAT.sumZ] = s[STAT.sumZ]! + gz * n;
        s[STAT.sumY] = s[STAT.sumY]! + gy * n;
        s[STAT.sumX] = s[STAT.sumX]! + ((gx0 + gx1) * n) / 2;
        if (gz < s[STAT.minZ]!) s[STAT.minZ] = gz;
        if (gy < s[STAT.minY]!) s[STAT.minY] = gy;
        if (gx0 < s[STAT.minX]!) s[STAT.minX] = gx0;
        if (gz > s[STAT.maxZ]!) s[STAT.maxZ] = gz;
        if (gy > s[STAT.maxY]!) s[STAT.maxY] = gy;
        if (gx1 > s[STAT.maxX]!) s[STAT.maxX] = gx1;
      }
    }
  }
}

function toRegionStats(acc: Map<number, Float64Array>): RegionStats {
  const ids = [...acc.keys()].sort((a, b) => a - b);
  const stats: number[] = [];
  for (const id of ids) for (const v of acc.get(id)!) stats.push(v);
  return { ids, stats };
}

/** Adds block results together (sums, mins, maxes). */
export function mergeRegionStats(parts: readonly RegionStats[]): RegionStats {
  const acc = new Map<number, Float64Array>();
  for (const p of parts) {
    for (let k = 0; k < p.ids.length; k++) {
      const s = statsOf(acc, p.ids[k]!);
      const o = k * STAT_COUNT;
      for (let j = 0; j < STAT_COUNT; j++) {
        const v = p.stats[o + j]!;
        if (j >= STAT.minZ && j <= STAT.minX) s[j] = Math.min(s[j]!, v);
        else if (j >= STAT.maxZ && j <= STAT.maxX) s[j] = Math.max(s[j]!, v);
        else s[j] = s[j]! + v;
      }
    }
  }
  return toRegionStats(acc);
}
