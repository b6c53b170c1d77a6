import { describe, expect, it } from "vitest";
import { Rng } from "../core/random.ts";
import { fbm3, fbmLipschitz, VALUE_NOISE_LIPSCHITZ, valueNoise1, valueNoise3 } from "./noise.ts";

describe("value noise", () => {
  it("stays in [-1, 1], is continuous and its gradient stays under the stated bound", () => {
    const r = new Rng(11);
    const h = 1e-4;
    let maxGrad = 0;
    let maxFbmGrad = 0;
    for (let i = 0; i < 8000; i++) {
      const z = r.range(-50, 50);
      const y = r.range(-50, 50);
      const x = r.range(-50, 50);
      const v = valueNoise3(z, y, x, 9);
      expect(Math.abs(v)).toBeLessThanOrEqual(1);
      const g = [
        valueNoise3(z + h, y, x, 9) - valueNoise3(z - h, y, x, 9),
        valueNoise3(z, y + h, x, 9) - valueNoise3(z, y - h, x, 9),
        valueNoise3(z, y, x + h, 9) - valueNoise3(z, y, x - h, 9),
      ].map((d) => d / (2 * h));
      maxGrad = Math.max(maxGrad, Math.hypot(...g));
      const f = [
        fbm3(z + h, y, x, 9, 2) - fbm3(z - h, y, x, 9, 2),
        fbm3(z, y + h, x, 9, 2) - fbm3(z, y - h, x, 9, 2),
        fbm3(z, y, x + h, 9, 2) - fbm3(z, y, x - h, 9, 2),
      ].map((d) => d / (2 * h));
      maxFbmGrad = Math.max(maxFbmGrad, Math.hypot(...f));
    }
    expect(maxGrad).toBeGreaterThan(1.5);
    expect(maxGrad).toBeLessThan(VALUE_NOISE_LIPSCHITZ);
    expect(maxFbmGrad).toBeLessThan(fbmLipschitz(2));
    expect(Math.abs(valueNoise1(3.5, 1))).toBeLessThanOrEqual(1);
    // Lattice points carry their hashed value; the noise interpolates between them.
    expect(valueNoise3(2, 3, 4, 9)).not.toBe(valueNoise3(2, 3, 5, 9));
  });
});
