import { invalidData } from "./errors.ts";

/**
 * Seeded randomness, one implementation for the whole project. Two kinds, on purpose:
 * - `Rng` (xoshiro128** seeded through splitmix32) is a stream: the synthetic cell's layout, the training
 *   loop's sampling and augmentation draws. Its state can be saved (`state()`) into a checkpoint and
 *   restored (`Rng.fromState`), so a resumed training run draws exactly what the uninterrupted run would.
 * - `hash3`/`hash4` are stateless integer hashes used while rendering synthetic cells: a voxel's noise
 *   depends only on its global index and the seed, never on the order blocks are rendered in, so any block
 *   decomposition gives identical bytes.
 */

/** murmur3's 32-bit finaliser: full avalanche, cheap. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of three integers (any sign) and a seed to a uint32. */
export function hash3(a: number, b: number, c: number, seed: number): number {
  let h = fmix32((seed ^ Math.imul(a | 0, 0x9e3779b1)) >>> 0);
  h = fmix32((h ^ Math.imul(b | 0, 0x85ebca77)) >>> 0);
  return fmix32((h ^ Math.imul(c | 0, 0xc2b2ae3d)) >>> 0);
}

/**
 * A cheaper hash of three integers and a seed (one finaliser over a multiply-xor combination), for the
 * per-voxel paths: lattice values of noise, ribosome placement, imaging noise.
 */
export function hashFast3(a: number, b: number, c: number, seed: number): number {
  return fmix32(
    (Math.imul(a | 0, 0x8da6b343) ^ Math.imul(b | 0, 0xd8163841) ^ Math.imul(c | 0, 0xcb1ab31f) ^ seed) >>> 0,
  );
}

/** Hash of four integers and a seed to a uint32. */
export function hash4(a: number, b: number, c: number, d: number, seed: number): number {
  return fmix32((hash3(a, b, c, seed) ^ Math.imul(d | 0, 0x27d4eb2f)) >>> 0);
}

const INV32 = 1 / 4294967296;

/** Uniform in [0, 1) from a uint32 hash. */
export function unit(h: number): number {
  return h * INV32;
}

const IRWIN_HALL_SCALE = Math.sqrt(3) / 65536;

/**
 * Approximately standard normal from two uint32 hashes: the sum of their four 16-bit halves (Irwin-Hall,
 * n = 4) rescaled to unit variance. Bounded at +-3.46: no log/cos in the per-voxel path.
 */
export function gaussianFromHashes(h1: number, h2: number): number {
  const s = (h1 & 0xffff) + (h1 >>> 16) + (h2 & 0xffff) + (h2 >>> 16);
  return (s - 131070) * IRWIN_HALL_SCALE;
}

/** A 32-bit integer from a string (FNV-1a then fmix), for naming independent streams. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h >>> 0);
}

/** Folds a seed (any safe integer, negative allowed) into 32 bits without losing its high part. */
export function seed32(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return fmix32((lo ^ fmix32((hi + 0x6a09e667) >>> 0)) >>> 0);
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The four uint32 words of an `Rng`'s state, as saved in checkpoints. */
export type RngState = readonly [number, number, number, number];

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32 so that nearby seeds give unrelated streams. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    [this.a, this.b, this.c, this.d] = splitmixState(seed32(seed));
  }

  private static ofState(s: RngState): Rng {
    const r = new Rng(0);
    [r.a, r.b, r.c, r.d] = s;
    return r;
  }

  /**
   * An independent stream named by `labels` under `seed`: streams do not depend on how much of another stream
   * was consumed, so adding draws in one place never shifts the layout elsewhere.
   */
  static derive(seed: number, ...labels: (string | number)[]): Rng {
    let h = seed32(seed);
    for (const l of labels) h = fmix32((h ^ (typeof l === "number" ? seed32(l) : hashString(l))) >>> 0);
    return new Rng(h);
  }

  /** The training loop's stream named `label` (e.g. "sampling", "augment") under `seed`. */
  static seeded(seed: number, label: string): Rng {
    return Rng.ofState(splitmixState((seed32(seed) ^ hashString(label)) >>> 0));
  }

  /** A stream continuing from a saved `state()`; `what` names the source in the error. */
  static fromState(state: unknown, what = "RNG state"): Rng {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) ||
      state.every((v) => v === 0)
    ) {
      throw invalidData(`${what}: expected four uint32 numbers, not all zero`);
    }
    return Rng.ofState([state[0], state[1], state[2], state[3]]);
  }

  state(): RngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  clone(): Rng {
    return Rng.ofState(this.state());
  }

  /** Next uint32. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits. */
  float(): number {
    const hi = this.next() >>> 5;
    const lo = this.next() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Integer uniform in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal (Box-Muller; not for per-voxel paths). */
  normal(): number {
    let u = this.float();
    while (u <= 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Normal with mean and sd, clamped to [lo, hi]. */
  normalIn(mean: number, sd: number, lo: number, hi: number): number {
    return Math.min(hi, Math.max(lo, mean + sd * this.normal()));
  }

  /** An index drawn with probability proportional to `weights` (non-negative, not all zero). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let u = this.float() * total;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (w <= 0) continue;
      last = i;
      u -= w;
      if (u < 0) return i;
    }
    // Rounding can leave u at 0 after the last positive weight.
    return last;
  }

  /** A uniformly distributed unit vector (z,y,x). */
  direction(): [number, number, number] {
    const z = this.range(-1, 1);
    const phi = this.range(0, 2 * Math.PI);
    const r = Math.sqrt(Math.max(0, 1 - z * z));
    return [z, r * Math.sin(phi), r * Math.cos(phi)];
  }

  /** A uniformly distributed rotation as a row-major 3x3 matrix (from a random unit quaternion). */
  rotation(): number[] {
    const u1 = this.float();
    const u2 = this.float() * 2 * Math.PI;
    const u3 = this.float() * 2 * Math.PI;
    const a = Math.sqrt(1 - u1);
    const b = Math.sqrt(u1);
    return quaternionMatrix(a * Math.sin(u2), a * Math.cos(u2), b * Math.sin(u3), b * Math.cos(u3));
  }
}

/** Four splitmix32 outputs from `s`: a well-mixed, never all-zero xoshiro state. */
function splitmixState(s: number): [number, number, number, number] {
  const st = { s };
  const out: [number, number, number, number] = [
    splitmix32(st),
    splitmix32(st),
    splitmix32(st),
    splitmix32(st),
  ];
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[0] = 1;
  return out;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Row-major rotation matrix of the unit quaternion (w, x, y, z). */
export function quaternionMatrix(w: number, x: number, y: number, z: number): number[] {
  return [
    1 - 2 * (y * y + z * z),
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    1 - 2 * (x * x + z * z),
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    1 - 2 * (x * x + y * y),
  ];
}
