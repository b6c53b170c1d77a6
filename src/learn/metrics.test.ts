import { describe, expect, it } from "vitest";
import { accumulate, balancedCrossEntropy, emptyConfusion, scores } from "./metrics.ts";

describe("validation metrics", () => {
  it("counts only valid voxels and computes precision, recall and F1 (= Dice)", () => {
    const prob = Float32Array.from([0.9, 0.6, 0.4, 0.2, 0.7, 0.1]);
    const labels = Uint8Array.from([1, 0, 1, 0, 1, 1]);
    const valid = Uint8Array.from([1, 1, 1, 1, 1, 0]);
    const c = emptyConfusion();
    accumulate(c, prob, labels, valid, 0.5);
    expect(c).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 });
    const s = scores(c);
    expect(s.precision).toBeCloseTo(2 / 3, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
    expect(s.f1).toBeCloseTo(2 / 3, 12);
    expect(scores({ tp: 0, fp: 0, fn: 0, tn: 5 })).toEqual({ precision: 1, recall: 1, f1: 1 });
    expect(scores({ tp: 0, fp: 3, fn: 0, tn: 5 }).f1).toBe(0);
  });

  it("balanced cross-entropy matches a hand computation", () => {
    // f = 0.5 -> weights 1; loss = -(ln 0.8 + ln(1 - 0.3)) / 2 voxels... over all 3 voxels (one invalid)
    const prob = Float32Array.from([0.8, 0.3, 0.5]);
    const labels = Uint8Array.from([1, 0, 1]);
    const r = balancedCrossEntropy(prob, labels, Uint8Array.from([1, 1, 0]));
    expect(r.voxels).toBe(3);
    expect(r.sum).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7)), 6);
  });
});
