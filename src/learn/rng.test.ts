import { describe, expect, it } from "vitest";
import { LearnRng } from "./rng.ts";

describe("LearnRng", () => {
  it("is deterministic per seed and label, and independent across labels", () => {
    const a = LearnRng.seeded(1, "sampling");
    const b = LearnRng.seeded(1, "sampling");
    const c = LearnRng.seeded(1, "augment");
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });

  it("restores a saved state to continue the same stream", () => {
    const a = LearnRng.seeded(7, "x");
    for (let i = 0; i < 100; i++) a.float();
    const saved = JSON.parse(JSON.stringify(a.state()));
    const rest = Array.from({ length: 10 }, () => a.float());
    const b = LearnRng.fromState(saved);
    expect(Array.from({ length: 10 }, () => b.float())).toEqual(rest);
    expect(() => LearnRng.fromState([0, 0, 0, 0])).toThrow(/four uint32/);
    expect(() => LearnRng.fromState([1, 2, 3])).toThrow(/four uint32/);
  });

  it("draws indices in proportion to weights and never a zero weight", () => {
    const r = LearnRng.seeded(3, "w");
    const counts = [0, 0, 0, 0];
    const n = 40_000;
    for (let i = 0; i < n; i++) counts[r.weighted([1, 0, 3, 0])]!++;
    expect(counts[1]).toBe(0);
    expect(counts[3]).toBe(0);
    // binomial sd = sqrt(n p (1-p)) ~ 87; allow 5 sd
    expect(Math.abs(counts[0]! - n / 4)).toBeLessThan(5 * 87);
  });

  it("gives uniform floats with the right mean and normals with unit variance", () => {
    const r = LearnRng.seeded(5, "f");
    let s = 0;
    let s2 = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.05);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});
