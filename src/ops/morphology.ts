import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { type BlockGeometry, checkCovers, checkGeometry } from "./block-geometry.ts";
import { squaredDistanceInto } from "./edt.ts";
import { packRows, unpackRow, widenRows, wordView } from "./row-bits.ts";
import { checkVolume, cropBox, intersectBoxes, outOrNew, voxelSizeOrUnit } from "./volume3d.ts";

/**
 * Binary morphology with a ball of radius r nm on an anisotropic grid, equal voxel for voxel to
 * scipy.ndimage.binary_dilation / binary_erosion / binary_opening / binary_closing with
 * structure = ball and the same border_value.
 *
 * The ball is the set of voxel offsets o with ((oz*vz)^2 + (oy*vy)^2) + (ox*vx)^2 <= r^2 (summed in
 * that order in float64). Two exact methods:
 * - "bits": the ball is a stack of x-segments, one per (oz, oy). Rows are packed into bits, widened
 *   along x once per distinct segment half-width, and each output row is the OR of the widened
 *   source rows of the ball's segments. Cost ~ voxels/32 x (segments), whatever the content.
 * - "edt": threshold the squared distance transform at r^2 (passes summed in the same order as the
 *   ball, so a distance is always some source's exact ball value); the rare voxels whose distance
 *   lies just above r^2 (within 1e-9 relative) are re-decided against the ball's outermost offsets,
 *   so floating-point near-ties cannot flip a voxel. Cost ~ voxels, whatever r.
 * "auto" (default) picks "bits" unless the ball has so many segments (radius of tens of voxels)
 * that the distance transform is cheaper.
 *
 * Border (scipy's border_value): 0 (default) means the outside of the array is background — erosion
 * eats objects within r of the array border, dilation adds nothing from outside; 1 means the outside
 * is foreground — dilation fills within r of the border, erosion never erodes from it. Opening and
 * closing use it for both of their steps, as scipy does; with 0, closing erodes objects touching the
 * array border (scipy's behaviour).
 *
 * Block-wise: morphologyBlock takes a block's read box (with ballContext of context; what lies
 * outside the volume is ignored, so the volume border keeps scipy's semantics) and returns the exact
 * result for its write box.
 */

export type MorphologyMethod = "auto" | "bits" | "edt";

export interface MorphologyOptions {
  /** nm per voxel (z,y,x); default (1,1,1), radius in voxels. */
  voxelSize?: Coordinate;
  /** scipy's border_value: what the outside of the array counts as. Default 0. */
  borderValue?: 0 | 1;
  method?: MorphologyMethod;
  /** Output buffer to reuse (length = voxel count); may be the mask itself. */
  out?: Uint8Array;
}

/**
 * The ball as x half-widths: widths[(oz+rz)*(2ry+1) + (oy+ry)] is the largest ox >= 0 with (oz,oy,ox)
 * in the ball, or -1 when the row has no offset in it. The ball is symmetric and convex along every
 * axis (float rounding is monotone), so this describes it exactly.
 */
export interface BallRows {
  readonly radius: number;
  readonly voxelSize: Coordinate;
  /** Extents of the ball in voxels along z,y,x. */
  readonly rz: number;
  readonly ry: number;
  readonly rx: number;
  readonly widths: Int32Array;
}

export function ballRows(radiusNm: number, voxelSize: Coordinate): BallRows {
  if (!(Number.isFinite(radiusNm) && radiusNm >= 0)) {
    throw invalidArgument(`ball radius ${radiusNm}: must be a finite number of nm >= 0`);
  }
  const [vz, vy, vx] = voxelSize;
  const r2 = radiusNm * radiusNm;
  const extent = (v: number) => {
    let k = 0;
    while (((k + 1) * v) ** 2 <= r2) k++;
    return k;
  };
  const rz = extent(vz);
  const ry = extent(vy);
  const rx = extent(vx);
  if ((2 * rz + 1) * (2 * ry + 1) * (2 * rx + 1) > 2 ** 31) {
    throw invalidArgument(
      `ball radius ${radiusNm} nm is too large for voxel size (${voxelSize.join(", ")}) nm`,
    );
  }
  const widths = new Int32Array((2 * rz + 1) * (2 * ry + 1));
  for (let oz = -rz; oz <= rz; oz++) {
    for (let oy = -ry; oy <= ry; oy++) {
      const tz = oz * vz;
      const ty = oy * vy;
      const zy = tz * tz + ty * ty;
      let w = -1;
      for (let ox = 0; ox <= rx; ox++) {
        const tx = ox * vx;
        if (zy + tx * tx <= r2) w = ox;
        else break;
      }
      widths[(oz + rz) * (2 * ry + 1) + (oy + ry)] = w;
    }
  }
  return { radius: radiusNm, voxelSize, rz, ry, rx, widths };
}

/** The ball as a dense 0/1 volume of shape (2rz+1, 2ry+1, 2rx+1) (for tests and naive references). */
export function ballMask(b: BallRows): { data: Uint8Array; shape: Coordinate } {
  const sy = 2 * b.ry + 1;
  const sx = 2 * b.rx + 1;
  const shape: Coordinate = [2 * b.rz + 1, sy, sx];
  const data = new Uint8Array(shape[0] * sy * sx);
  for (let z = 0; z < shape[0]; z++) {
    for (let y = 0; y < sy; y++) {
      const w = b.widths[z * sy + y]!;
      for (let x = b.rx - w; x <= b.rx + w; x++) data[(z * sy + y) * sx + x] = 1;
    }
  }
  return { data, shape };
}

export function binaryDilation(
  mask: Uint8Array,
  shape: Coordinate,
  radiusNm: number,
  options: MorphologyOptions = {},
): Uint8Array {
  return morph(mask, shape, radiusNm, options, false, "binary dilation");
}

export function binaryErosion(
  mask: Uint8Array,
  shape: Coordinate,
  radiusNm: number,
  options: MorphologyOptions = {},
): Uint8Array {
  return morph(mask, shape, radiusNm, options, true, "binary erosion");
}

/** Erosion then dilation (scipy.ndimage.binary_opening). */
export function binaryOpening(
  mask: Uint8Array,
  shape: Coordinate,
  radiusNm: number,
  options: MorphologyOptions = {},
): Uint8Array {
  const tmp = morph(mask, shape, radiusNm, { ...options, out: undefined }, true, "binary opening");
  return morph(tmp, shape, radiusNm, options, false, "binary opening");
}

/** Dilation then erosion (scipy.ndimage.binary_closing). */
export function binaryClosing(
  mask: Uint8Array,
  shape: Coordinate,
  radiusNm: number,
  options: MorphologyOptions = {},
): Uint8Array {
  const tmp = morph(mask, shape, radiusNm, { ...options, out: undefined }, false, "binary closing");
  return morph(tmp, shape, radiusNm, options, true, "binary closing");
}

/**
 * Dilation and erosion through one kernel: erosion keeps the voxels that no background voxel (nor,
 * with border 0, the outside) reaches within the ball — the complement of dilating the background.
 */
function morph(
  mask: Uint8Array,
  shape: Coordinate,
  radiusNm: number,
  options: MorphologyOptions,
  erosion: boolean,
  what: string,
): Uint8Array {
  const n = checkVolume(mask, shape, what);
  const vs = voxelSizeOrUnit(options.voxelSize, what);
  const borderValue = options.borderValue ?? 0;
  if (borderValue !== 0 && borderValue !== 1) {
    throw invalidArgument(`${what}: borderValue must be 0 or 1, got ${String(borderValue)}`);
  }
  const method = options.method ?? "auto";
  if (method !== "auto" && method !== "bits" && method !== "edt") {
    throw invalidArgument(`${what}: method must be "auto", "bits" or "edt", got '${String(method)}'`);
  }
  const ball = ballRows(radiusNm, vs);
  const out = outOrNew(options.out, n, (k) => new Uint8Array(k), what);
  if (out.buffer === mask.buffer) {
    // in place: the kernels read the mask while writing, so work on a copy of it
    mask = mask.slice();
  }
  // sources: what spreads by the ball (foreground for dilation, background for erosion)
  const outsideIsSource = erosion ? borderValue === 0 : borderValue === 1;
  let segments = 0;
  for (const w of ball.widths) if (w >= 0) segments++;
  // measured: one segment costs about (words per row + 4) operations per row; the distance
  // transform about 40 per voxel (both measured on 256^3)
  const wpr = (shape[2] + 31) >>> 5;
  const useBits = method === "bits" || (method === "auto" && segments * (wpr + 4) < 40 * shape[2]);
  if (useBits) dilateBits(mask, shape, ball, erosion, outsideIsSource, out);
  else dilateByDistance(mask, shape, ball, erosion, outsideIsSource, out);
  return out;
}

/**
 * out = the sources dilated by the ball (sources = foreground), or for erosion (sources = the
 * background) the complement of that.
 */
function dilateBits(
  mask: Uint8Array,
  shape: Coordinate,
  ball: BallRows,
  erosion: boolean,
  outsideIsSource: boolean,
  out: Uint8Array,
): void {
  const [nz, ny, nx] = shape;
  const rows = nz * ny;
  const src = packRows(mask, shape, erosion);
  const wpr = src.wordsPerRow;
  // the ball's segments (oz, oy, half-width) and one widened copy of the rows per distinct width
  const sy = 2 * ball.ry + 1;
  const eoz: number[] = [];
  const eoy: number[] = [];
  const ew: number[] = [];
  // widest segments first: they cover the most, so a row saturates (and stops) sooner
  const order = [...ball.widths.keys()].filter((i) => ball.widths[i]! >= 0);
  order.sort((p, q) => ball.widths[q]! - ball.widths[p]! || p - q);
  for (const i of order) {
    eoz.push(Math.floor(i / sy) - ball.rz);
    eoy.push((i % sy) - ball.ry);
    ew.push(ball.widths[i]!);
  }
  const distinct = [...new Set(ew)].sort((p, q) => p - q);
  const widened = new Map<number, Int32Array>();
  let cur = src.bits;
  let c = 0;
  for (const w of distinct) {
    while (c < w) {
      const step = Math.min(c + 1, w - c);
      const next = new Int32Array(cur.length);
      widenRows(cur, next, rows, wpr, nx, step);
      cur = next;
      c += step;
    }
    widened.set(w, cur);
  }
  const m = ew.length;
  const segRows = m > 0 ? eoz.map((_, e) => widened.get(ew[e]!)!) : [];
  // the outside along x as seen through the ball's widest (centre) segment
  const band = new Int32Array(wpr);
  if (outsideIsSource) {
    const edge = Math.min(ball.rx, nx);
    for (let x = 0; x < nx; x++) {
      if (x < edge || x >= nx - edge) band[x >>> 5] = band[x >>> 5]! | (1 << (x & 31));
    }
  }
  const acc = new Int32Array(wpr);
  const last = (nx & 31) === 0 ? -1 : (1 << (nx & 31)) - 1;
  const out32 = wordView(out);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const o = (z * ny + y) * nx;
      let full = false;
      acc.set(band);
      for (let e = 0; e < m; e++) {
        const zz = z + eoz[e]!;
        const yy = y + eoy[e]!;
        if (zz < 0 || zz >= nz || yy < 0 || yy >= ny) {
          if (outsideIsSource) {
            full = true;
            break;
          }
          continue;
        }
        const rowsOf = segRows[e]!;
        const base = (zz * ny + yy) * wpr;
        for (let j = 0; j < wpr; j++) acc[j] = acc[j]! | rowsOf[base + j]!;
        if ((e & 7) === 7) {
          // every few segments: stop once the whole row is covered
          let all = acc[wpr - 1] === last;
          for (let j = 0; all && j < wpr - 1; j++) all = acc[j] === -1;
          if (all) {
            full = true;
            break;
          }
        }
      }
      if (full) out.fill(erosion ? 0 : 1, o, o + nx);
      else unpackRow(acc, wpr, nx, erosion, out, out32, o);
    }
  }
}

/**
 * Relative band above r^2 inside which a distance-based "outside the ball" is re-checked exactly.
 * Every distance the transform returns is the ball formula of an actual source offset (the passes
 * sum in the ball's order), so a value <= r^2 is always right; only a value just above r^2 may hide
 * a source the lower envelope passed over at a floating-point near-tie.
 */
const TIE_BAND = 1e-9;

function dilateByDistance(
  mask: Uint8Array,
  shape: Coordinate,
  ball: BallRows,
  erosion: boolean,
  outsideIsSource: boolean,
  out: Uint8Array,
): void {
  const n = mask.length;
  const r2 = ball.radius * ball.radius;
  const hiBand = r2 * (1 + TIE_BAND);
  const d2 = new Float64Array(n);
  squaredDistanceInto(mask, shape, ball.voxelSize, !erosion, outsideIsSource, hiBand, d2);
  const on = erosion ? 0 : 1;
  const off = 1 - on;
  let shell: Int32Array | undefined;
  for (let i = 0; i < n; i++) {
    const v = d2[i]!;
    if (v <= r2) out[i] = on;
    else if (v > hiBand) out[i] = off;
    else {
      shell ??= ballShell(ball);
      out[i] = shellReachesSource(mask, shape, shell, i, erosion, outsideIsSource) ? on : off;
    }
  }
}

/**
 * Offsets (oz, oy, ox triples) of the ball whose value lies within 1e-6 relative below r^2: the only
 * candidates for a source the distance transform may have passed over at a near-tie.
 */
function ballShell(ball: BallRows): Int32Array {
  const [vz, vy, vx] = ball.voxelSize;
  const r2 = ball.radius * ball.radius;
  const lo = r2 * (1 - 1e-6);
  const list: number[] = [];
  for (let oz = -ball.rz; oz <= ball.rz; oz++) {
    for (let oy = -ball.ry; oy <= ball.ry; oy++) {
      for (let ox = -ball.rx; ox <= ball.rx; ox++) {
        const tz = oz * vz;
        const ty = oy * vy;
        const tx = ox * vx;
        const v = tz * tz + ty * ty + tx * tx;
        if (v <= r2 && v >= lo) list.push(oz, oy, ox);
      }
    }
  }
  return Int32Array.from(list);
}

/** Exact test: is any source voxel (or the outside, if it is a source) at a shell offset from voxel i? */
function shellReachesSource(
  mask: Uint8Array,
  shape: Coordinate,
  shell: Int32Array,
  i: number,
  sourcesAreZero: boolean,
  outsideIsSource: boolean,
): boolean {
  const [nz, ny, nx] = shape;
  const z = Math.floor(i / (ny * nx));
  const y = Math.floor(i / nx) % ny;
  const x = i % nx;
  for (let k = 0; k < shell.length; k += 3) {
    const zz = z + shell[k]!;
    const yy = y + shell[k + 1]!;
    const xx = x + shell[k + 2]!;
    if (zz < 0 || zz >= nz || yy < 0 || yy >= ny || xx < 0 || xx >= nx) {
      if (outsideIsSource) return true;
      continue;
    }
    if ((mask[(zz * ny + yy) * nx + xx] === 0) === sourcesAreZero) return true;
  }
  return false;
}

export type MorphologyOp = "dilation" | "erosion" | "opening" | "closing";

/**
 * Context (voxels, z,y,x) a block needs on each side for `op` with this ball: the ball's extent,
 * twice over for opening and closing.
 */
export function ballContext(op: MorphologyOp, radiusNm: number, voxelSize: Coordinate): Coordinate {
  const b = ballRows(radiusNm, voxelSize);
  const k = op === "opening" || op === "closing" ? 2 : 1;
  return coord(k * b.rz, k * b.ry, k * b.rx);
}

/**
 * One block of a block-wise morphology run: `read` holds the block's read box (voxels outside the
 * volume, e.g. zero-filled by the runner, are ignored); returns the write box, identical to the
 * whole-volume result there. Fails with the missing context if the read box is too small.
 */
export function morphologyBlock(
  read: Uint8Array,
  geometry: BlockGeometry,
  op: MorphologyOp,
  radiusNm: number,
  options: Omit<MorphologyOptions, "out"> = {},
): Uint8Array {
  const what = `binary ${op} (block)`;
  checkGeometry(geometry, read.length, what);
  const vs = voxelSizeOrUnit(options.voxelSize, what);
  const reach = ballContext(op, radiusNm, vs);
  const { write, volumeShape } = geometry;
  const grown = {
    begin: coord(write.begin[0] - reach[0], write.begin[1] - reach[1], write.begin[2] - reach[2]),
    shape: coord(write.shape[0] + 2 * reach[0], write.shape[1] + 2 * reach[1], write.shape[2] + 2 * reach[2]),
  };
  // Work only on what the write box can see; its sides inside the volume lie beyond the ball's
  // reach of every write voxel, so treating them as outside changes nothing there.
  const needed = intersectBoxes(grown, { begin: coord(0, 0, 0), shape: volumeShape });
  checkCovers(geometry, needed, what);
  const data = cropBox(read, geometry.read, needed, (n) => new Uint8Array(n));
  const fn =
    op === "dilation"
      ? binaryDilation
      : op === "erosion"
        ? binaryErosion
        : op === "opening"
          ? binaryOpening
          : op === "closing"
            ? binaryClosing
            : undefined;
  if (fn === undefined) {
    throw invalidArgument(`${what}: operation must be dilation, erosion, opening or closing`);
  }
  const result = fn(data, needed.shape, radiusNm, { ...options, voxelSize: vs });
  return cropBox(result, needed, write, (n) => new Uint8Array(n));
}
