import type { Coordinate } from "../core/coordinate.ts";

/**
 * Binary volumes as bit rows: row r = z*ny + y is `wordsPerRow` 32-bit words, bit b of word j being
 * voxel x = 32j + b; bits at x >= nx are always 0. A ball dilation then is, per output row, an OR of
 * a few whole source rows each widened along x — 32 voxels per operation.
 */

export interface RowBits {
  readonly shape: Coordinate;
  readonly wordsPerRow: number;
  readonly bits: Int32Array;
}

/** Valid-bit mask of the last word of a row. */
function tailMask(nx: number): number {
  const t = nx & 31;
  return t === 0 ? -1 : (1 << t) - 1;
}

/** Packs the non-zero voxels of `mask` (or its zero voxels when `ofZeros`) into bit rows. */
export function packRows(mask: Uint8Array, shape: Coordinate, ofZeros: boolean): RowBits {
  const [nz, ny, nx] = shape;
  const rows = nz * ny;
  const wpr = (nx + 31) >>> 5;
  const bits = new Int32Array(rows * wpr);
  const last = tailMask(nx);
  // rows start on 4-byte boundaries: read four voxels per 32-bit load
  const words =
    LITTLE_ENDIAN && (mask.byteOffset & 3) === 0 && (nx & 3) === 0
      ? new Int32Array(mask.buffer, mask.byteOffset, mask.length >>> 2)
      : undefined;
  for (let r = 0; r < rows; r++) {
    const o = r * nx;
    const base = r * wpr;
    let k = o >>> 2;
    for (let j = 0; j < wpr; j++) {
      const x0 = o + 32 * j;
      const n = j === wpr - 1 ? nx - 32 * j : 32;
      let w = 0;
      if (words !== undefined) {
        for (let b = 0; b < n; b += 4) {
          const v = words[k++]!;
          // high bit of each byte set iff the byte is non-zero; then gather the four high bits
          const hi = (((v & 0x7f7f7f7f) + 0x7f7f7f7f) | v) & 0x80808080;
          w |= ((Math.imul(hi >>> 7, 0x00204081) >>> 21) & 15) << b;
        }
      } else {
        for (let b = 0; b < n; b++) {
          const m = mask[x0 + b]!;
          w |= ((m | -m) >>> 31) << b; // 1 iff m !== 0, without a branch
        }
      }
      if (ofZeros) w = ~w & (j === wpr - 1 ? last : -1);
      bits[base + j] = w;
    }
  }
  return { shape, wordsPerRow: wpr, bits };
}

/**
 * dst = src | src shifted by +s | src shifted by -s along x, row by row (bits beyond nx cleared).
 * With src already widened by c, this widens by c + s as long as s <= 2c + 1.
 */
export function widenRows(
  src: Int32Array,
  dst: Int32Array,
  rows: number,
  wpr: number,
  nx: number,
  s: number,
): void {
  const q = s >>> 5;
  const t = s & 31;
  const last = tailMask(nx);
  for (let r = 0; r < rows; r++) {
    const base = r * wpr;
    for (let j = 0; j < wpr; j++) {
      let v = src[base + j]!;
      // toward higher x: bit x comes from x - s
      const a = j - q;
      if (a >= 0) {
        v |= t === 0 ? src[base + a]! : src[base + a]! << t;
        if (t !== 0 && a - 1 >= 0) v |= src[base + a - 1]! >>> (32 - t);
      }
      // toward lower x: bit x comes from x + s
      const c = j + q;
      if (c < wpr) {
        v |= t === 0 ? src[base + c]! : src[base + c]! >>> t;
        if (t !== 0 && c + 1 < wpr) v |= src[base + c + 1]! << (32 - t);
      }
      dst[base + j] = j === wpr - 1 ? v & last : v;
    }
  }
}

/** Output bytes (0/1) of the 8 bits of a byte, as two little-endian 32-bit words. */
const LUT_LO = new Uint32Array(256);
const LUT_HI = new Uint32Array(256);
for (let v = 0; v < 256; v++) {
  let lo = 0;
  let hi = 0;
  for (let k = 0; k < 4; k++) {
    lo |= ((v >>> k) & 1) << (8 * k);
    hi |= ((v >>> (k + 4)) & 1) << (8 * k);
  }
  LUT_LO[v] = lo >>> 0;
  LUT_HI[v] = hi >>> 0;
}
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Writes one bit row as 0/1 bytes to out[o .. o+nx), inverted when `invert`. Uses 8-byte table
 * writes when the row is 4-byte aligned.
 */
export function unpackRow(
  row: Int32Array,
  wpr: number,
  nx: number,
  invert: boolean,
  out: Uint8Array,
  out32: Uint32Array | undefined,
  o: number,
): void {
  const flip = invert ? -1 : 0;
  if (out32 !== undefined && ((out.byteOffset + o) & 3) === 0) {
    const o4 = (out.byteOffset + o - out32.byteOffset) >>> 2;
    for (let j = 0; j < wpr; j++) {
      const w = row[j]! ^ flip;
      const x0 = 32 * j;
      for (let g = 0; g < 4; g++) {
        const xs = x0 + 8 * g;
        if (xs >= nx) return;
        const byte = (w >>> (8 * g)) & 255;
        if (xs + 8 <= nx) {
          out32[o4 + (xs >>> 2)] = LUT_LO[byte]!;
          out32[o4 + (xs >>> 2) + 1] = LUT_HI[byte]!;
        } else {
          for (let b = 0; xs + b < nx; b++) out[o + xs + b] = (byte >>> b) & 1;
        }
      }
    }
    return;
  }
  for (let j = 0; j < wpr; j++) {
    const w = row[j]! ^ flip;
    const x0 = 32 * j;
    const n = Math.min(32, nx - x0);
    for (let b = 0; b < n; b++) out[o + x0 + b] = (w >>> b) & 1;
  }
}

/** A 32-bit view of `out` for unpackRow's fast path, when the platform and alignment allow. */
export function wordView(out: Uint8Array): Uint32Array | undefined {
  if (!LITTLE_ENDIAN) return undefined;
  const start = (out.byteOffset + 3) & ~3;
  const words = (out.byteOffset + out.byteLength - start) >>> 2;
  return words > 0 ? new Uint32Array(out.buffer, start, words) : undefined;
}
