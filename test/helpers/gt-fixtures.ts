import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { type Coordinate, coordFrom } from "../../src/core/coordinate.ts";

/**
 * The scipy/skimage reference results of test/fixtures/gt (written by
 * scripts/fixtures/make_gt_fixtures.py) for the ground-truth tools and the cell mask.
 */

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gt");

interface ArrayEntry {
  file: string;
  dtype: "uint8" | "uint32";
  shape: number[];
}

export interface GtFixtures {
  labels: {
    shape: number[];
    binary: string;
    instances: string;
    exclusion: { dilate: number; erode: number; structure: "cross" | "ball"; zone: string }[];
    bias: { n: number; structure: "cross" | "ball"; binary: string; instances: string }[];
    clean: {
      removeSmallerThan: number;
      fillHolesSmallerThan: number;
      binaryRemoved: string;
      binaryFilled: string;
      binaryBoth: string;
      instancesRemoved: string;
      instancesFilled: string;
    };
  };
  cell: {
    shape: number[];
    raw: string;
    windowLow: number;
    windowHigh: number;
    openingRadius: number;
    closingRadius: number;
    fillHolesSmallerThan: number;
    removeObjectsSmallerThan: number;
    mask: string;
    morphologyOnly: string;
    maskFillAllHoles: string;
  };
  arrays: Record<string, ArrayEntry>;
}

let index: GtFixtures | undefined;

export function gtFixtures(): GtFixtures {
  index ??= JSON.parse(readFileSync(join(DIR, "index.json"), "utf8")) as GtFixtures;
  return index;
}

export function shapeOf(shape: number[]): Coordinate {
  return coordFrom(shape, "fixture shape");
}

function bytes(name: string, dtype: ArrayEntry["dtype"]): ArrayBuffer {
  const entry = gtFixtures().arrays[name];
  if (!entry) throw new Error(`no fixture array '${name}'`);
  if (entry.dtype !== dtype) throw new Error(`fixture '${name}' is ${entry.dtype}, not ${dtype}`);
  const buf = gunzipSync(readFileSync(join(DIR, entry.file)));
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  return ab;
}

export const gtU8 = (name: string): Uint8Array => new Uint8Array(bytes(name, "uint8"));
export const gtU32 = (name: string): Uint32Array => new Uint32Array(bytes(name, "uint32"));

/** Number of voxels where two arrays differ (and -1 for a length mismatch). */
export function differences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
