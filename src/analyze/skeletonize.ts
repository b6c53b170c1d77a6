import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { checkVolume } from "../ops/volume3d.ts";

/*
 * 3D topological thinning of Lee, Kashyap & Chu (1994), as scikit-image's `skeletonize_3d`
 * (Arganda-Carreras' Skeletonize3D) implements it: six directional sub-iterations (border types in
 * the order W, E, S, N, U, B of that code), each collecting the border voxels that are not end
 * points, are Euler invariant and simple, then deleting them one by one in raster order if they are
 * still simple. Repeated until no sub-iteration deletes anything. The result equals skimage's voxel
 * for voxel (tests: test/fixtures/skeleton).
 *
 * `mode: "surface"` is Lee's medial-surface thinning: the end-point test becomes the surface-end test
 * (every octant of the neighbourhood holds fewer than 3 voxels besides the centre or is one of the
 * six planar 2x2 patterns through the centre), as in COSEM's Skeletonize3D_.
 *
 * Neighbourhoods are 27-bit masks: bit k is the voxel at dz = k/9 - 1, dx = (k%9)/3 - 1,
 * dy = k%3 - 1 (skimage's numbering; 13 is the centre). Only foreground voxels are visited (a sorted
 * list, compacted after each sub-iteration), so the cost follows the object, not its box.
 */

export type ThinningMode = "axis" | "surface";

const CENTRE = 1 << 13;

/** Octants of the neighbourhood as skimage orders them: 7 neighbour bits, weights 128..2. */
const OCTANTS: readonly (readonly number[])[] = [
  [2, 1, 11, 10, 5, 4, 14],
  [0, 9, 3, 12, 1, 10, 4],
  [8, 7, 17, 16, 5, 4, 14],
  [6, 15, 7, 16, 3, 12, 4],
  [20, 23, 19, 22, 11, 14, 10],
  [18, 21, 9, 12, 19, 22, 10],
  [26, 23, 17, 14, 25, 22, 16],
  [24, 25, 15, 16, 21, 22, 12],
];

/** Column delta G_26 of Lee's Table 2 (odd indices; even indices are 0). */
const EULER_ODD = [
  1, -1, -1, 1, -3, -1, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, -3, -1, 3, 1, 1, -1, 3, 1, -1, 1, 1, -1, 3, 1, 1,
  -1, -3, 3, -1, 1, 1, 3, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, 1, 3, 3, 1, 5, 3, 3, 1, -1, 1, 1, -1, 3, 1, 1, -1,
  -7, -1, -1, 1, -3, -1, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, -3, -1, 3, 1, 1, -1, 3, 1, -1, 1, 1, -1, 3, 1, 1,
  -1, -3, 3, -1, 1, 1, 3, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, 1, 3, 3, 1, 5, 3, 3, 1, -1, 1, 1, -1, 3, 1, 1, -1,
];

const EULER_LUT = new Int8Array(256);
for (let i = 0; i < 128; i++) EULER_LUT[2 * i + 1] = EULER_ODD[i]!;

/**
 * Per octant and 7-bit chunk of the neighbourhood mask, the octant-index bits that chunk contributes,
 * so an octant's index (centre bit set) is four table lookups instead of seven bit tests.
 */
const OCTANT_CHUNKS = new Uint8Array(8 * 4 * 128);
for (let o = 0; o < 8; o++) {
  for (let c = 0; c < 4; c++) {
    for (let v = 0; v < 128; v++) {
      let n = 0;
      for (let j = 0; j < 7; j++) {
        const bit = OCTANTS[o]![j]! - 7 * c;
        if (bit >= 0 && bit < 7 && v & (1 << bit)) n |= 128 >> j;
      }
      OCTANT_CHUNKS[(o * 4 + c) * 128 + v] = n;
    }
  }
}

function octantIndex(nb: number, o: number): number {
  const t = o * 512;
  return (
    1 |
    OCTANT_CHUNKS[t + (nb & 127)]! |
    OCTANT_CHUNKS[t + 128 + ((nb >>> 7) & 127)]! |
    OCTANT_CHUNKS[t + 256 + ((nb >>> 14) & 127)]! |
    OCTANT_CHUNKS[t + 384 + ((nb >>> 21) & 127)]!
  );
}

function isEulerInvariant(nb: number): boolean {
  let euler = 0;
  for (let o = 0; o < 8; o++) euler += EULER_LUT[octantIndex(nb, o)]!;
  return euler === 0;
}

/** The planar 2x2 patterns through the centre (3 axis-aligned, 3 diagonal) of Lee's Definition 1. */
const SURFACE_PATTERNS = new Set([51, 15, 85, 195, 165, 153]);

function popcount8(n: number): number {
  let c = 0;
  for (let v = n; v; v &= v - 1) c++;
  return c;
}

function isSurfaceEnd(nb: number): boolean {
  for (let o = 0; o < 8; o++) {
    const n = octantIndex(nb, o);
    if (!(SURFACE_PATTERNS.has(n) || popcount8(n) - 1 < 3)) return false;
  }
  return true;
}

function isEndPoint(nb: number): boolean {
  // the centre counts: an end point has exactly one neighbour
  let c = 0;
  for (let v = nb; v; v &= v - 1) c++;
  return c === 2;
}

/** For each neighbour bit, the bits of its 26-neighbours within the 3x3x3 block (centre excluded). */
const ADJACENT = new Int32Array(27);
for (let a = 0; a < 27; a++) {
  if (a === 13) continue;
  const az = Math.trunc(a / 9);
  const ax = Math.trunc((a % 9) / 3);
  const ay = a % 3;
  let m = 0;
  for (let b = 0; b < 27; b++) {
    if (b === 13 || b === a) continue;
    const bz = Math.trunc(b / 9);
    const bx = Math.trunc((b % 9) / 3);
    const by = b % 3;
    if (Math.abs(az - bz) <= 1 && Math.abs(ax - bx) <= 1 && Math.abs(ay - by) <= 1) m |= 1 << b;
  }
  ADJACENT[a] = m;
}

/**
 * Lee's N(v) labelling: deleting the centre keeps the neighbourhood's voxels one 26-connected piece
 * (or none). skimage labels through octants; two neighbours share an octant exactly when they are
 * 26-adjacent, so a flood fill over 26-adjacency counts the same components.
 */
function isSimple(nb: number): boolean {
  let rest = nb & ~CENTRE;
  if (rest === 0) return true;
  let comp = rest & -rest;
  let frontier = comp;
  while (frontier) {
    let grow = 0;
    for (let f = frontier; f; f &= f - 1) grow |= ADJACENT[31 - Math.clz32(f & -f)]!;
    grow &= rest & ~comp;
    comp |= grow;
    frontier = grow;
  }
  rest &= ~comp;
  return rest === 0;
}

/**
 * Thins a binary volume (C order z,y,x; non-zero = foreground) to its skeleton ("axis": curves,
 * skimage.morphology.skeletonize_3d) or medial surface ("surface"). Returns 0/1 of the same shape.
 * Voxels outside the volume count as background.
 */
export function skeletonize3d(
  mask: Uint8Array,
  shape: Coordinate,
  opts: { mode?: ThinningMode } = {},
): Uint8Array {
  checkVolume(mask, shape, "skeletonize");
  const mode = opts.mode ?? "axis";
  if (mode !== "axis" && mode !== "surface") {
    throw invalidArgument(`skeletonize: mode must be "axis" or "surface", got '${mode}'`);
  }
  const [nz, ny, nx] = shape;
  const pz = nz + 2;
  const py = ny + 2;
  const px = nx + 2;
  const sz = py * px;
  const img = new Uint8Array(pz * sz);
  let count = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const src = (z * ny + y) * nx;
      const dst = ((z + 1) * py + (y + 1)) * px + 1;
      for (let x = 0; x < nx; x++) {
        if (mask[src + x]) {
          img[dst + x] = 1;
          count++;
        }
      }
    }
  }
  // foreground voxels in raster order (skimage's scan order)
  let fg = new Int32Array(count);
  let n = 0;
  for (let i = 0; i < img.length; i++) if (img[i]) fg[n++] = i;

  const off = new Int32Array(27);
  for (let k = 0; k < 27; k++) {
    const dz = Math.trunc(k / 9) - 1;
    const dx = Math.trunc((k % 9) / 3) - 1;
    const dy = (k % 3) - 1;
    off[k] = dz * sz + dy * px + dx;
  }
  const neighbourhood = (i: number): number => {
    let m = 0;
    for (let k = 0; k < 27; k++) if (img[i + off[k]!]) m |= 1 << k;
    return m;
  };
  // border types of skimage's loop order [4, 3, 2, 1, 5, 6]: W (y-1), E (y+1), S (x+1), N (x-1), U (z+1), B (z-1)
  const borderOffsets = nz === 1 ? [-px, px, 1, -1] : [-px, px, 1, -1, sz, -sz];
  const keepEnd = mode === "axis" ? isEndPoint : isSurfaceEnd;
  let candidates = new Int32Array(Math.max(16, count));
  let unchanged = 0;
  while (unchanged < borderOffsets.length) {
    unchanged = 0;
    for (const bo of borderOffsets) {
      let nc = 0;
      for (let j = 0; j < n; j++) {
        const i = fg[j]!;
        if (img[i + bo] !== 0) continue;
        const nb = neighbourhood(i);
        if (keepEnd(nb) || !isEulerInvariant(nb) || !isSimple(nb)) continue;
        candidates[nc++] = i;
      }
      let changed = false;
      for (let j = 0; j < nc; j++) {
        const i = candidates[j]!;
        if (isSimple(neighbourhood(i))) {
          img[i] = 0;
          changed = true;
        }
      }
      if (changed) {
        let m = 0;
        for (let j = 0; j < n; j++) if (img[fg[j]!]) fg[m++] = fg[j]!;
        n = m;
      } else {
        unchanged++;
      }
    }
    if (candidates.length > 2 * Math.max(16, n)) candidates = new Int32Array(Math.max(16, n));
    fg = fg.length > 2 * Math.max(16, n) ? fg.slice(0, n) : fg;
  }
  const out = new Uint8Array(nz * ny * nx);
  for (let j = 0; j < n; j++) {
    const i = fg[j]!;
    const z = Math.trunc(i / sz) - 1;
    const r = i % sz;
    const y = Math.trunc(r / px) - 1;
    const x = (r % px) - 1;
    out[(z * ny + y) * nx + x] = 1;
  }
  return out;
}
