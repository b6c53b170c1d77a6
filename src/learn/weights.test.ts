import { describe, expect, it } from "vitest";
import { balancedWeights, validVoxels } from "./weights.ts";

describe("class-balanced loss weights", () => {
  it("weights each class by 1 / (2 * frequency) among the voxels that count", () => {
    // 10 voxels, 2 foreground: f = 0.2 -> w_fg = 2.5, w_bg = 0.625; each class carries half the weight.
    const labels = Uint8Array.from([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const r = balancedWeights(labels, null);
    expect(r.foreground).toBeCloseTo(0.2, 12);
    expect(r.weightForeground).toBeCloseTo(2.5, 6);
    expect(r.weightBackground).toBeCloseTo(0.625, 6);
    expect(Array.from(r.weights)).toEqual([2.5, 2.5, 0.625, 0.625, 0.625, 0.625, 0.625, 0.625, 0.625, 0.625]);
  });

  it("gives 0 outside the mask and inside the exclusion zone and leaves them out of the frequency", () => {
    const labels = Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 0]);
    const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 0, 0]);
    const excl = Uint8Array.from([0, 0, 1, 1, 0, 0, 0, 0]);
    const valid = validVoxels(8, mask, excl, null);
    expect(Array.from(valid)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    const r = balancedWeights(labels, valid);
    // counted: 2 fg + 2 bg -> f = 0.5 -> both weights 1
    expect(r.counted).toBe(4);
    expect(Array.from(r.weights)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });

  it("clips frequencies to [0.01, 0.99] (at most 1:99)", () => {
    const labels = new Uint8Array(1000);
    labels[0] = 1; // f = 0.001 -> clipped to 0.01
    const r = balancedWeights(labels, null);
    expect(r.foreground).toBeCloseTo(0.001, 12);
    expect(r.weightForeground).toBeCloseTo(50, 6);
    expect(r.weightBackground).toBeCloseTo(1 / 1.98, 6);
    const none = balancedWeights(new Uint8Array(10), null);
    expect(none.weightForeground).toBeCloseTo(50, 6);
    expect(Math.fround(none.weights[0]!)).toBe(Math.fround(1 / 1.98));
    const all = balancedWeights(new Uint8Array(10).fill(1), null);
    expect(all.weights[0]).toBeCloseTo(1 / 1.98, 6);
  });

  it("is all zero when no voxel counts", () => {
    const r = balancedWeights(Uint8Array.from([1, 0]), Uint8Array.from([0, 0]));
    expect(r.counted).toBe(0);
    expect(Array.from(r.weights)).toEqual([0, 0]);
    expect(Number.isNaN(r.foreground)).toBe(true);
  });

  it("combines mask, exclusion and ROI membership", () => {
    const v = validVoxels(4, null, Uint8Array.from([0, 1, 0, 0]), Uint8Array.from([1, 1, 1, 0]));
    expect(Array.from(v)).toEqual([1, 0, 1, 0]);
  });
});
