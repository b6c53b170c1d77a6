import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { Coordinate } from "../../src/core/coordinate.ts";

/**
 * Loads the scipy/skimage reference results of test/fixtures/ops (written by
 * scripts/fixtures/make_ops_fixtures.py) and offers small helpers shared by the src/ops tests:
 * a seeded RNG, random masks, a bijection check for label images and block cutting.
 */

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "ops");

interface ArrayEntry {
  file: string;
  dtype: "uint8" | "uint32" | "float64";
  shape: number[];
}

export interface MorphCase {
  radius: number;
  ballVoxels: number;
  ballShape: number[];
  border0: Record<"dilation" | "erosion" | "opening" | "closing", string>;
  border1: Record<"dilation" | "erosion" | "opening" | "closing", string>;
}

export interface OpsCase {
  name: string;
  shape: Coordinate;
  voxelSize: Coordinate;
  mask: string;
  edt: { foreground: string; background: string; foregroundOutsideSources: string };
  morphology: MorphCase[];
  label: Record<"6" | "18" | "26", { labels: string; count: number }>;
  fillHoles: { all6: string; all26: string; inside6SmallerThan: string; removeSmallHoles6: string };
  removeSmall: { minSize: number; binary6: string; binary26: string; labelsIn: string; labels: string };
}

interface Index {
  smallSize: number;
  cases: OpsCase[];
  arrays: Record<string, ArrayEntry>;
}

let index: Index | undefined;

export function opsFixtures(): Index {
  index ??= JSON.parse(readFileSync(join(DIR, "index.json"), "utf8")) as Index;
  return index;
}

function bytes(name: string): { entry: ArrayEntry; buf: Buffer } {
  const entry = opsFixtures().arrays[name];
  if (!entry) throw new Error(`no fixture array '${name}'`);
  return { entry, buf: gunzipSync(readFileSync(join(DIR, entry.file))) };
}

function copyTo<T extends { buffer: ArrayBufferLike }>(buf: Buffer, make: (b: ArrayBuffer) => T): T {
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  return make(ab);
}

export function fixtureU8(name: string): Uint8Array {
  const { entry, buf } = bytes(name);
  if (entry.dtype !== "uint8") throw new Error(`fixture '${name}' is ${entry.dtype}, not uint8`);
  return copyTo(buf, (b) => new Uint8Array(b));
}

export function fixtureU32(name: string): Uint32Array {
  const { entry, buf } = bytes(name);
  if (entry.dtype !== "uint32") throw new Error(`fixture '${name}' is ${entry.dtype}, not uint32`);
  return copyTo(buf, (b) => new Uint32Array(b));
}

export function fixtureF64(name: string): Float64Array {
  const { entry, buf } = bytes(name);
  if (entry.dtype !== "float64") throw new Error(`fixture '${name}' is ${entry.dtype}, not float64`);
  return copyTo(buf, (b) => new Float64Array(b));
}

/** First index where two arrays differ, or -1 (with a length mismatch reported as index 0). */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Number of voxels where two arrays differ. */
export function countDifferences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/**
 * Whether two label images describe the same partition: background in the same places and a
 * one-to-one map between their ids. Returns null when they do, else a message naming the first
 * voxel that breaks it.
 */
export function bijectionError(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if ((x === 0) !== (y === 0)) return `voxel ${i}: background in one image only (${x} vs ${y})`;
    if (x === 0) continue;
    const mx = ab.get(x);
    const my = ba.get(y);
    if (mx === undefined && my === undefined) {
      ab.set(x, y);
      ba.set(y, x);
    } else if (mx !== y || my !== x) {
      return `voxel ${i}: id ${x} maps to ${mx ?? "-"} and ${y} to ${my ?? "-"}, not one-to-one`;
    }
  }
  return null;
}

/** Deterministic PRNG (mulberry32) so property tests are reproducible. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomMask(n: number, p: number, rand: () => number): Uint8Array {
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = rand() < p ? 1 : 0;
  return m;
}

/** Copies a box (begin, shape) out of a volume, zero-filling what lies outside it (like a block runner). */
export function cutBox<T extends Uint8Array | Uint32Array>(
  vol: T,
  shape: Coordinate,
  begin: Coordinate,
  size: Coordinate,
  make: (n: number) => T,
): T {
  const out = make(size[0] * size[1] * size[2]);
  for (let z = 0; z < size[0]; z++) {
    const zz = begin[0] + z;
    if (zz < 0 || zz >= shape[0]) continue;
    for (let y = 0; y < size[1]; y++) {
      const yy = begin[1] + y;
      if (yy < 0 || yy >= shape[1]) continue;
      for (let x = 0; x < size[2]; x++) {
        const xx = begin[2] + x;
        if (xx < 0 || xx >= shape[2]) continue;
        out[(z * size[1] + y) * size[2] + x] = vol[(zz * shape[1] + yy) * shape[2] + xx]!;
      }
    }
  }
  return out;
}

/** Pastes a block (begin, size) into a volume. */
export function pasteBox(
  vol: Uint8Array | Uint32Array | Float64Array,
  shape: Coordinate,
  begin: Coordinate,
  size: Coordinate,
  block: ArrayLike<number>,
): void {
  for (let z = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++) {
      const o = ((begin[0] + z) * shape[1] + begin[1] + y) * shape[2] + begin[2];
      for (let x = 0; x < size[2]; x++) vol[o + x] = block[(z * size[1] + y) * size[2] + x]!;
    }
  }
}

/** Write blocks tiling a volume from its origin (last ones shrunk), in row-major block-id order. */
export function tileBlocks(shape: Coordinate, block: Coordinate): { begin: Coordinate; shape: Coordinate }[] {
  const out: { begin: Coordinate; shape: Coordinate }[] = [];
  for (let z = 0; z < shape[0]; z += block[0]) {
    for (let y = 0; y < shape[1]; y += block[1]) {
      for (let x = 0; x < shape[2]; x += block[2]) {
        out.push({
          begin: [z, y, x],
          shape: [
            Math.min(block[0], shape[0] - z),
            Math.min(block[1], shape[1] - y),
            Math.min(block[2], shape[2] - x),
          ],
        });
      }
    }
  }
  return out;
}

/** Flood fill with an explicit offset list; ids in order of discovery (raster order of first voxel). */
export function floodLabels(
  mask: Uint8Array,
  shape: Coordinate,
  connectivity: 6 | 18 | 26,
  ofZeros = false,
): { labels: Uint32Array; count: number } {
  const [nz, ny, nx] = shape;
  const offs: number[][] = [];
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const k = Math.abs(dz) + Math.abs(dy) + Math.abs(dx);
        if (k === 0 || (connectivity === 6 && k > 1) || (connectivity === 18 && k > 2)) continue;
        offs.push([dz, dy, dx]);
      }
    }
  }
  const fg = (i: number) => (mask[i] !== 0) !== ofZeros;
  const labels = new Uint32Array(mask.length);
  let count = 0;
  const stack: number[] = [];
  for (let s = 0; s < mask.length; s++) {
    if (!fg(s) || labels[s] !== 0) continue;
    labels[s] = ++count;
    stack.push(s);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const z = Math.floor(i / (ny * nx));
      const y = Math.floor(i / nx) % ny;
      const x = i % nx;
      for (const [dz, dy, dx] of offs) {
        const zz = z + dz!;
        const yy = y + dy!;
        const xx = x + dx!;
        if (zz < 0 || zz >= nz || yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
        const j = (zz * ny + yy) * nx + xx;
        if (fg(j) && labels[j] === 0) {
          labels[j] = count;
          stack.push(j);
        }
      }
    }
  }
  return { labels, count };
}
