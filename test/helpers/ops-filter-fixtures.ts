/**
 * Loads the scipy/skimage reference results in test/fixtures/ops-filters (written by
 * scripts/fixtures/make_filter_fixtures.py) for the grey-value filter tests in src/ops.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type Coordinate, coord } from "../../src/core/coordinate.ts";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/ops-filters");

export interface FixtureArrayInfo {
  file: string;
  dtype: string;
  shape: number[];
}

export interface FilterFixtureIndex {
  versions: Record<string, string>;
  arrays: Record<string, FixtureArrayInfo>;
  gaussian: {
    name: string;
    input: string;
    sigma_nm: number[];
    voxel_nm: number[];
    truncate: number;
    output: "same" | "float32";
    expected: string;
  }[];
  otsu: { input: string; threshold: number }[];
  clahe: {
    name: string;
    input: string;
    kernel_size: number[];
    clip_limit: number;
    nbins: number;
    expected_u8: string;
  }[];
  watershed: { name: string; image: string; markers: string; mask: string | null; expected: string }[];
}

export type FixtureArray = Uint8Array | Uint16Array | Int32Array | Float32Array | Float64Array;

let cached: FilterFixtureIndex | undefined;

export function fixtureIndex(): FilterFixtureIndex {
  cached ??= JSON.parse(fs.readFileSync(path.join(DIR, "index.json"), "utf8")) as FilterFixtureIndex;
  return cached;
}

/** One fixture array with its shape; the files are little-endian like the machines we run on. */
export function fixtureArray(name: string): { data: FixtureArray; shape: Coordinate } {
  const info = fixtureIndex().arrays[name];
  if (!info) throw new Error(`fixture array ${name} is not in ${DIR}/index.json`);
  const bytes = fs.readFileSync(path.join(DIR, info.file));
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const ctor = {
    uint8: Uint8Array,
    uint16: Uint16Array,
    int32: Int32Array,
    float32: Float32Array,
    float64: Float64Array,
  }[info.dtype];
  if (!ctor) throw new Error(`fixture array ${name}: unsupported dtype ${info.dtype}`);
  const shape = coord(info.shape[0]!, info.shape[1]!, info.shape[2]!);
  return { data: new ctor(buf), shape };
}

/** Largest absolute difference and how many elements differ at all. */
export function compareArrays(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { maxAbs: number; differing: number; total: number } {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let maxAbs = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > 0) differing++;
    if (d > maxAbs) maxAbs = d;
  }
  return { maxAbs, differing, total: a.length };
}

type AnyTyped = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/**
 * Cuts a box out of a volume, zero-filling what lies outside it (what a block runner hands a block
 * whose read box reaches past the volume border).
 */
export function cutBox<T extends AnyTyped>(
  vol: T,
  shape: Coordinate,
  begin: Coordinate,
  size: Coordinate,
): T {
  const out = new (vol.constructor as new (n: number) => T)(size[0] * size[1] * size[2]);
  let d = 0;
  for (let z = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++) {
      for (let x = 0; x < size[2]; x++, d++) {
        const gz = begin[0] + z;
        const gy = begin[1] + y;
        const gx = begin[2] + x;
        if (gz < 0 || gy < 0 || gx < 0 || gz >= shape[0] || gy >= shape[1] || gx >= shape[2]) continue;
        out[d] = vol[(gz * shape[1] + gy) * shape[2] + gx]!;
      }
    }
  }
  return out;
}
