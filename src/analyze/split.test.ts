import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import {
  DEFAULT_MERGE_THRESHOLD,
  labelBoxes,
  pickSeeds,
  quantileSorted,
  type SplitParams,
  splitLabels,
  splitObject,
} from "./split.ts";

/*
 * The split of over-merged objects on shapes with a known answer: two touching balls and a dumbbell
 * split at the neck, an elongated rod and an over-seeded ball stay whole (agglomeration), and the
 * per-object crops equal the split computed on the whole volume.
 */

const VS = coord(8, 8, 8);
const DEFAULTS: SplitParams = {
  seeds: "distance",
  minSeedDistance: 100,
  seedThreshold: 0,
  mergeQuantile: 0.5,
  mergeThreshold: DEFAULT_MERGE_THRESHOLD.distance,
};

function volume(
  shape: Coordinate,
  inside: (z: number, y: number, x: number) => boolean,
  id = 1,
): Uint32Array {
  const out = new Uint32Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++) if (inside(z, y, x)) out[(z * shape[1] + y) * shape[2] + x] = id;
  return out;
}
const at = (a: Uint32Array, s: Coordinate, z: number, y: number, x: number) => a[(z * s[1] + y) * s[2] + x]!;
const ball = (cz: number, cy: number, cx: number, r: number) => (z: number, y: number, x: number) =>
  (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= r * r;

const S = coord(26, 26, 50);
const twoBalls = volume(S, (z, y, x) => ball(13, 13, 16, 10)(z, y, x) || ball(13, 13, 33, 10)(z, y, x));
const dumbbell = volume(
  S,
  (z, y, x) =>
    ball(13, 13, 10, 8)(z, y, x) ||
    ball(13, 13, 39, 8)(z, y, x) ||
    ((z - 13) ** 2 + (y - 13) ** 2 <= 9 && x >= 10 && x <= 39),
);

function wholeObject(labels: Uint32Array, shape: Coordinate, p: SplitParams) {
  const mask = Uint8Array.from(labels, (v) => (v ? 1 : 0));
  return splitObject(mask, shape, VS, p);
}

describe("splitObject / splitLabels", () => {
  it("splits two touching balls into two at the neck, equal to the whole-volume split", () => {
    const r = splitLabels(twoBalls, S, VS, DEFAULTS);
    expect(r.split).toBe(1);
    expect(r.added).toBe(1);
    expect(at(r.labels, S, 13, 13, 16)).toBe(1);
    expect(at(r.labels, S, 13, 13, 33)).toBe(2);
    // the cut lies at the neck (x 24..25, midway between the centres)
    for (let x = 0; x < 24; x++) if (at(twoBalls, S, 13, 13, x)) expect(at(r.labels, S, 13, 13, x)).toBe(1);
    for (let x = 26; x < 50; x++) if (at(twoBalls, S, 13, 13, x)) expect(at(r.labels, S, 13, 13, x)).toBe(2);
    const whole = wholeObject(twoBalls, S, DEFAULTS);
    expect(whole.count).toBe(2);
    const fromWhole = Uint32Array.from(whole.pieces, (v) => (v === 0 ? 0 : v === 1 ? 1 : 2));
    expect(r.labels).toEqual(fromWhole);
    let voxels1 = 0;
    let voxels2 = 0;
    for (const v of r.labels) {
      if (v === 1) voxels1++;
      else if (v === 2) voxels2++;
    }
    expect(Math.abs(voxels1 - voxels2)).toBeLessThan(0.05 * voxels1);
  });

  it("splits a dumbbell at its bar", () => {
    const r = splitLabels(dumbbell, S, VS, DEFAULTS);
    expect(r.added).toBe(1);
    expect(at(r.labels, S, 13, 13, 10)).toBe(1);
    expect(at(r.labels, S, 13, 13, 39)).toBe(2);
    const whole = wholeObject(dumbbell, S, DEFAULTS);
    expect(r.labels).toEqual(Uint32Array.from(whole.pieces));
  });

  it("keeps a single elongated rod whole with the defaults, though it seeds several fragments", () => {
    const R = coord(20, 20, 70);
    const rod = volume(R, (z, y, x) => {
      const dx = Math.max(0, 15 - x, x - 54);
      return (z - 10) ** 2 + (y - 10) ** 2 + dx * dx <= 64;
    });
    const whole = wholeObject(rod, R, DEFAULTS);
    expect(whole.fragments).toBeGreaterThan(1);
    expect(whole.count).toBe(1);
    const r = splitLabels(rod, R, VS, DEFAULTS);
    expect(r.split).toBe(0);
    expect(r.labels).toEqual(rod);
  });

  it("merges the fragments of one ball over-seeded with a small min-seed-distance", () => {
    const B = coord(30, 30, 30);
    // centred between voxels: eight tied distance maxima, all seeds when nothing suppresses them
    const one = volume(B, ball(14.5, 14.5, 14.5, 12));
    const low = { ...DEFAULTS, minSeedDistance: 0 };
    const whole = wholeObject(one, B, low);
    expect(whole.fragments).toBe(8);
    expect(whole.count).toBe(1);
    // without agglomeration the fragments stay apart
    expect(wholeObject(one, B, { ...low, mergeThreshold: 1.1 }).count).toBe(8);
    // a noisy prediction over the ball: many maxima, one object after agglomeration
    let seed = 7;
    const pred = new Float32Array(one.length);
    for (let i = 0; i < pred.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const z = Math.trunc(i / 900);
      const y = Math.trunc(i / 30) % 30;
      const x = i % 30;
      const d = Math.hypot(z - 14.5, y - 14.5, x - 14.5);
      pred[i] = 0.9 - 0.4 * (d / 12) ** 2 + 0.1 * (seed / 2 ** 32);
    }
    const p: SplitParams = {
      ...DEFAULTS,
      seeds: "prediction",
      minSeedDistance: 16,
      mergeThreshold: DEFAULT_MERGE_THRESHOLD.prediction,
    };
    const noisy = splitObject(Uint8Array.from(one), B, VS, p, pred);
    expect(noisy.fragments).toBeGreaterThan(3);
    expect(noisy.count).toBe(1);
    expect(splitObject(Uint8Array.from(one), B, VS, { ...p, mergeThreshold: 1 }, pred).count).toBe(
      noisy.fragments,
    );
  });

  it("splits with prediction seeds: two blobs of a prediction under one mask", () => {
    const pred = new Float32Array(S[0] * S[1] * S[2]);
    for (let z = 0; z < S[0]; z++)
      for (let y = 0; y < S[1]; y++)
        for (let x = 0; x < S[2]; x++) {
          const d1 = Math.hypot(z - 13, y - 13, x - 16);
          const d2 = Math.hypot(z - 13, y - 13, x - 33);
          pred[(z * S[1] + y) * S[2] + x] = Math.max(Math.exp(-((d1 / 8) ** 2)), Math.exp(-((d2 / 8) ** 2)));
        }
    const p: SplitParams = {
      ...DEFAULTS,
      seeds: "prediction",
      mergeThreshold: DEFAULT_MERGE_THRESHOLD.prediction,
    };
    const r = splitLabels(twoBalls, S, VS, p, pred);
    expect(r.added).toBe(1);
    expect(at(r.labels, S, 13, 13, 16)).toBe(1);
    expect(at(r.labels, S, 13, 13, 33)).toBe(2);
    expect(splitLabels(twoBalls, S, VS, { ...p, mergeThreshold: 0.1 }, pred).added).toBe(0);
  });

  it("numbers split pieces after the largest id, by object id, and leaves other objects alone", () => {
    const W = coord(26, 26, 110);
    const labels = new Uint32Array(W[0] * W[1] * W[2]);
    for (let z = 0; z < S[0]; z++)
      for (let y = 0; y < S[1]; y++)
        for (let x = 0; x < S[2]; x++) {
          const i = (z * W[1] + y) * W[2] + x;
          if (twoBalls[(z * S[1] + y) * S[2] + x]) labels[i] = 5; // splits
          if (dumbbell[(z * S[1] + y) * S[2] + x]) labels[i + 55] = 3; // splits, lower id first
        }
    labels[(2 * W[1] + 2) * W[2] + 52] = 7; // a lone voxel: one seed, stays 7
    const r = splitLabels(labels, W, VS, DEFAULTS);
    expect(r.split).toBe(2);
    expect(at(r.labels, W, 13, 13, 55 + 39)).toBe(8);
    expect(at(r.labels, W, 13, 13, 33)).toBe(9);
    expect(at(r.labels, W, 13, 13, 16)).toBe(5);
    expect(at(r.labels, W, 2, 2, 52)).toBe(7);
  });

  it("helpers: numpy's linear quantile, seed suppression, boxes", () => {
    expect(quantileSorted(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2.5);
    expect(quantileSorted(Float64Array.from([1, 2, 3, 4]), 1)).toBe(4);
    const values = Float64Array.from([0, 3, 1, 0, 2, 0]);
    const mask = new Uint8Array(6).fill(1);
    expect(Array.from(pickSeeds(values, mask, coord(1, 1, 6), coord(1, 1, 1), 0, 0))).toEqual([1, 4]);
    expect(Array.from(pickSeeds(values, mask, coord(1, 1, 6), coord(1, 1, 1), 3.5, 0))).toEqual([1]);
    expect(Array.from(pickSeeds(values, mask, coord(1, 1, 6), coord(1, 1, 1), 0, 2.5))).toEqual([1]);
    expect(labelBoxes(twoBalls, S).get(1)).toEqual([3, 3, 6, 24, 24, 44]);
  });
});
