import { describe, expect, it } from "vitest";
import { learningRateAt } from "./lr-schedule.ts";

describe("learning-rate schedules", () => {
  it("constant: the base rate at every step", () => {
    for (const step of [1, 50, 100]) expect(learningRateAt("constant", 5e-4, step, 100)).toBe(5e-4);
  });

  it("cosine: the base rate at step 1, half of it halfway, 0 at the last step, never rising", () => {
    expect(learningRateAt("cosine", 1e-3, 1, 101)).toBeCloseTo(1e-3, 15);
    expect(learningRateAt("cosine", 1e-3, 51, 101)).toBeCloseTo(5e-4, 15);
    expect(learningRateAt("cosine", 1e-3, 101, 101)).toBeCloseTo(0, 15);
    let previous = Number.POSITIVE_INFINITY;
    for (let step = 1; step <= 101; step++) {
      const lr = learningRateAt("cosine", 1e-3, step, 101);
      expect(lr).toBeLessThanOrEqual(previous);
      previous = lr;
    }
  });

  it("cosine follows base * (1 + cos(pi (step - 1) / (steps - 1))) / 2; a one-step run keeps the base", () => {
    expect(learningRateAt("cosine", 2e-4, 37, 150)).toBeCloseTo(
      1e-4 * (1 + Math.cos((Math.PI * 36) / 149)),
      18,
    );
    expect(learningRateAt("cosine", 2e-4, 1, 1)).toBe(2e-4);
  });
});
