import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { type BlockGeometry, checkGeometry } from "./block-geometry.ts";
import { checkVolume, cropBox, intersectBoxes, outOrNew, voxelSizeOrUnit } from "./volume3d.ts";

/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher's lower envelope of parabolas,
 * separable over the axes) with anisotropic sampling.
 *
 * Passes run z, then y, then x, so each squared distance is summed as
 * ((dz*vz)^2 + (dy*vy)^2) + (dx*vx)^2 — the order in which scipy sums its feature-transform offsets;
 * results equal scipy.ndimage.distance_transform_edt(mask, sampling=voxelSize) to the last bit
 * except where two nearest voxels tie (then within a few ulps). The z pass is a binary two-sweep
 * over whole planes (sequential memory); each plane gets its y and x passes as soon as its z
 * distances are final, while it is still in cache.
 */

export interface DistanceTransformOptions {
  /** nm per voxel (z,y,x). Default (1,1,1): distances in voxels. */
  voxelSize?: Coordinate;
  /**
   * "foreground" (default): every non-zero voxel gets its distance to the nearest zero voxel and zero
   * voxels get 0 (scipy distance_transform_edt(mask)). "background": every zero voxel gets its
   * distance to the nearest non-zero voxel (distance_transform_edt(~mask)).
   */
  of?: "foreground" | "background";
  /** Return squared distances (nm^2). Default false. */
  squared?: boolean;
  /**
   * What lies outside the array. "nothing" (scipy's convention, default): the nearest voxel counted
   * must be inside the array; a voxel with none gets Infinity (scipy returns meaningless values
   * there). "sources": the outside counts as the voxels measured to (as if the array were padded
   * with zeros for "foreground") — the convention of binary erosion with border_value=0.
   */
  outside?: "nothing" | "sources";
  /**
   * Report distances above this many nm as Infinity. For block-wise use: a block whose read region
   * has `c` nm of context around its write region gives exact values <= c in the write region, and
   * every value it finds above c is also above c in the whole volume — so pass maxDistance = c and
   * Infinity means "farther than the context". Also makes the transform faster. Default Infinity.
   */
  maxDistance?: number;
  /** Output buffer to reuse (length = voxel count). */
  out?: Float64Array;
}

/**
 * Euclidean distance transform of a mask (C order z,y,x, non-zero = foreground); float64 distances
 * in nm (or squared nm^2).
 */
export function distanceTransform(
  mask: Uint8Array,
  shape: Coordinate,
  options: DistanceTransformOptions = {},
): Float64Array {
  const n = checkVolume(mask, shape, "distance transform");
  const vs = voxelSizeOrUnit(options.voxelSize, "distance transform");
  const of = options.of ?? "foreground";
  if (of !== "foreground" && of !== "background") {
    throw invalidArgument(`distance transform: 'of' must be "foreground" or "background", got '${of}'`);
  }
  const outside = options.outside ?? "nothing";
  if (outside !== "nothing" && outside !== "sources") {
    throw invalidArgument(`distance transform: 'outside' must be "nothing" or "sources", got '${outside}'`);
  }
  const maxD = options.maxDistance ?? Number.POSITIVE_INFINITY;
  if (!(maxD >= 0)) throw invalidArgument(`distance transform: maxDistance ${maxD} must be >= 0 nm`);
  const out = outOrNew(options.out, n, (k) => new Float64Array(k), "distance transform");
  squaredDistanceInto(mask, shape, vs, of === "background", outside === "sources", maxD * maxD, out);
  if (!options.squared) for (let i = 0; i < n; i++) out[i] = Math.sqrt(out[i]!);
  return out;
}

/**
 * Squared distances to the nearest source voxel, written to `out`: sources are the zero voxels of
 * `mask` (or the non-zero ones if `sourcesNonZero`), plus everything outside the array if
 * `outsideIsSource`. Values above `cap2` become Infinity (lines entirely beyond the cap are then
 * skipped in later passes, which is what makes thresholded uses fast).
 */
export function squaredDistanceInto(
  mask: Uint8Array,
  shape: Coordinate,
  vs: Coordinate,
  sourcesNonZero: boolean,
  outsideIsSource: boolean,
  cap2: number,
  out: Float64Array,
): void {
  const [nz, ny, nx] = shape;
  const plane = ny * nx;
  const INF = Number.POSITIVE_INFINITY;
  // z pass, forward sweep: voxel counts to the nearest source below along z; BIG and above mean
  // "none" (counts stay below 2*nz+2). A table turns final counts into squared nm (capped).
  const BIG = nz;
  const table = new Float64Array(2 * nz + 2);
  for (let d = 0; d < table.length; d++) {
    const t = d * vs[0];
    const v = t * t;
    table[d] = d >= BIG || v > cap2 ? INF : v;
  }
  if (sourcesNonZero) {
    for (let i = 0; i < plane; i++) out[i] = mask[i] !== 0 ? 0 : BIG;
    for (let o = plane; o < nz * plane; o += plane) {
      for (let i = o, e = o + plane; i < e; i++) out[i] = mask[i] !== 0 ? 0 : out[i - plane]! + 1;
    }
  } else {
    for (let i = 0; i < plane; i++) out[i] = mask[i] === 0 ? 0 : BIG;
    for (let o = plane; o < nz * plane; o += plane) {
      for (let i = o, e = o + plane; i < e; i++) out[i] = mask[i] === 0 ? 0 : out[i - plane]! + 1;
    }
  }

  const maxLen = Math.max(ny, nx);
  const f = new Float64Array(maxLen);
  const d = new Float64Array(maxLen);
  const v = new Int32Array(maxLen);
  const zb = new Float64Array(maxLen + 1);
  const counts = new Float64Array(plane);
  const wy = vs[1];
  const wx = vs[2];

  // Backward sweep, one plane at a time from the top: once plane z has its final z counts, its y
  // and x passes run right away while the plane is still in cache.
  for (let z = nz - 1; z >= 0; z--) {
    const o = z * plane;
    if (z === nz - 1) {
      for (let i = 0; i < plane; i++) {
        const c = out[o + i]!;
        counts[i] = c;
        out[o + i] = table[c]!;
      }
    } else {
      for (let i = 0; i < plane; i++) {
        let c = out[o + i]!;
        const up = counts[i]! + 1;
        if (up < c) c = up;
        counts[i] = c;
        out[o + i] = table[c]!;
      }
    }

    // y pass: gather each x column of the plane (in cache), transform, scatter back
    if (ny > 1) {
      for (let x = 0; x < nx; x++) {
        let allZero = true;
        let allInf = true;
        for (let y = 0, i = o + x; y < ny; y++, i += nx) {
          const a = out[i]!;
          f[y] = a;
          if (a !== 0) allZero = false;
          if (a !== INF) allInf = false;
        }
        if (allZero || allInf) continue; // nothing to spread, or nothing to spread from
        transformLine(f, 0, ny, wy, cap2, v, zb, d);
        for (let y = 0, i = o + x; y < ny; y++, i += nx) out[i] = d[y]!;
      }
    }

    // x pass on the plane's contiguous rows, with the outside-as-source border folded in
    for (let y = 0; y < ny; y++) {
      const r = o + y * nx;
      if (nx > 1) {
        for (let x = 0; x < nx; x++) f[x] = out[r + x]!;
        transformLine(f, 0, nx, wx, cap2, v, zb, d);
        for (let x = 0; x < nx; x++) out[r + x] = d[x]!;
      }
      if (outsideIsSource) {
        const cz = Math.min(z + 1, nz - z) * vs[0];
        const cy = Math.min(y + 1, ny - y) * wy;
        const bzy = Math.min(cz * cz, cy * cy);
        for (let x = 0; x < nx; x++) {
          // biome-ignore lint/complexity/useMathMinMax: per-voxel loop
          const cx = (x + 1 < nx - x ? x + 1 : nx - x) * wx;
          let b = cx * cx;
          if (bzy < b) b = bzy;
          if (b > cap2) b = INF;
          if (b < out[r + x]!) out[r + x] = b;
        }
      }
    }
  }
}

/**
 * 1D squared distance transform of the samples f[base .. base+n) (Infinity = no source), spacing w,
 * into d[base .. base+n):
 * d[p] = min_q f[q] + ((p-q)*w)^2, values above cap2 set to Infinity, formed in that order so the
 * result is bit-identical to summing per-axis squared offsets. Zeros are sources that beat every
 * sample beyond them, so each stretch of non-zero samples only needs the lower envelope of itself
 * and its two bounding zeros — zeros cost nothing, which matters because they are usually most
 * of the voxels.
 */
function transformLine(
  f: Float64Array,
  base: number,
  n: number,
  w: number,
  cap2: number,
  v: Int32Array,
  zb: Float64Array,
  d: Float64Array,
): void {
  const INF = Number.POSITIVE_INFINITY;
  const w2 = w * w;
  let p = 0;
  while (p < n) {
    if (f[base + p] === 0) {
      d[base + p] = 0;
      p++;
      continue;
    }
    const s = p;
    let e = p + 1;
    while (e < n && f[base + e] !== 0) e++;
    const lo = s > 0 ? s - 1 : s;
    const hi = e < n ? e + 1 : n;
    let k = -1;
    for (let q = lo; q < hi; q++) {
      const fq = f[base + q]!;
      if (fq === INF) continue;
      if (k < 0) {
        k = 0;
        v[0] = q;
        zb[0] = -INF;
        zb[1] = INF;
        continue;
      }
      // intersection (in index units) of the parabolas rooted at q and at v[k]
      let r = v[k]!;
      let x = ((fq - f[base + r]!) / w2 + (q * q - r * r)) / (2 * (q - r));
      while (x <= zb[k]!) {
        k--;
        r = v[k]!;
        x = ((fq - f[base + r]!) / w2 + (q * q - r * r)) / (2 * (q - r));
      }
      k++;
      v[k] = q;
      zb[k] = x;
      zb[k + 1] = INF;
    }
    if (k < 0) {
      for (let i = s; i < e; i++) d[base + i] = INF;
    } else {
      k = 0;
      for (let i = s; i < e; i++) {
        while (zb[k + 1]! < i) k++;
        const q = v[k]!;
        const t = (i - q) * w;
        const val = f[base + q]! + t * t;
        d[base + i] = val > cap2 ? INF : val;
      }
    }
    p = e;
  }
}

/**
 * Distance transform of one block for block-wise runs. `read` holds the block's read box (it may
 * reach outside the volume; those voxels are ignored, so the volume border keeps the whole-volume
 * semantics of `outside`). Returns the write box's distances: exact wherever they are <= the
 * context the read box gives (the smallest margin, in nm, between write and read box on a side
 * that ends inside the volume) and Infinity where farther — set `maxDistance` lower to cap earlier.
 */
export function distanceTransformBlock(
  read: Uint8Array,
  geometry: BlockGeometry,
  options: Omit<DistanceTransformOptions, "out"> = {},
): Float64Array {
  const what = "distance transform (block)";
  checkGeometry(geometry, read.length, what);
  const vs = voxelSizeOrUnit(options.voxelSize, what);
  const { read: rb, write: wb, volumeShape } = geometry;
  let context = Number.POSITIVE_INFINITY;
  for (let a = 0; a < 3; a++) {
    const rEnd = rb.begin[a]! + rb.shape[a]!;
    const wEnd = wb.begin[a]! + wb.shape[a]!;
    if (rb.begin[a]! > 0) context = Math.min(context, (wb.begin[a]! - rb.begin[a]!) * vs[a]!);
    if (rEnd < volumeShape[a]!) context = Math.min(context, (rEnd - wEnd) * vs[a]!);
  }
  const maxDistance = options.maxDistance ?? context;
  if (maxDistance > context) {
    throw invalidArgument(
      `${what}: maxDistance ${maxDistance} nm needs more context than the read box gives (${context} nm); grow the block's context`,
    );
  }
  const inner = intersectBoxes(rb, { begin: coord(0, 0, 0), shape: volumeShape });
  const data = cropBox(read, rb, inner, (n) => new Uint8Array(n));
  const dt = distanceTransform(data, inner.shape, { ...options, maxDistance });
  return cropBox(dt, inner, wb, (n) => new Float64Array(n));
}
