import { invalidData } from "../core/errors.ts";
import { hashString, seed32 } from "../synth/random.ts";

/*
 * The training loop's random stream: xoshiro128** like synth's Rng, but with a state that can be saved
 * into a checkpoint and restored, so a resumed run draws exactly the numbers the uninterrupted run
 * would have drawn. Seeding goes through splitmix32 so nearby seeds give unrelated streams.
 */

export type RngState = readonly [number, number, number, number];

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class LearnRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(s: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = s;
  }

  /** A stream named by `label` under `seed` (e.g. "sampling", "augment"). */
  static seeded(seed: number, label: string): LearnRng {
    const st = { s: (seed32(seed) ^ hashString(label)) >>> 0 };
    const s: [number, number, number, number] = [
      splitmix32(st),
      splitmix32(st),
      splitmix32(st),
      splitmix32(st),
    ];
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    return new LearnRng(s);
  }

  static fromState(state: unknown, what = "RNG state"): LearnRng {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) ||
      state.every((v) => v === 0)
    ) {
      throw invalidData(`${what}: expected four uint32 numbers, not all zero`);
    }
    return new LearnRng([state[0], state[1], state[2], state[3]]);
  }

  state(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  clone(): LearnRng {
    return new LearnRng(this.state());
  }

  /** Next uint32. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
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

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.float();
    while (u <= 0) u = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
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
}
