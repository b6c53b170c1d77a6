import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { erfc, kolmogorovSf, ksTestNormal, median, shapiroWilk } from "./stats.ts";

interface Fixture {
  samples: {
    name: string;
    values: number[];
    shapiro: { W: number; p: number };
    ks: { mean: number; sd: number; D: number; p: number };
  }[];
  kstwo: { n: number; d: number; sf: number }[];
  erfc: { x: number; erfc: number }[];
}

// scripts/fixtures/make_stats_fixtures.py (scipy.stats 1.10)
const fixture = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, "../../test/fixtures/stats/stats.json"), "utf8"),
) as Fixture;

const close = (a: number, b: number, rel: number, abs: number) => Math.abs(a - b) <= abs + rel * Math.abs(b);

describe("normality tests against scipy.stats", () => {
  it("erfc matches scipy.special.erfc", () => {
    for (const { x, erfc: e } of fixture.erfc) {
      expect(close(erfc(x), e, 1e-13, 1e-300), `erfc(${x}) = ${erfc(x)} vs ${e}`).toBe(true);
    }
  });

  it("Shapiro–Wilk W and p match scipy.stats.shapiro (which runs in single precision)", () => {
    for (const s of fixture.samples) {
      const r = shapiroWilk(s.values);
      expect(Math.abs(r.statistic - s.shapiro.W), `${s.name} W`).toBeLessThan(2e-6);
      expect(close(r.pValue, s.shapiro.p, 2e-3, 1e-6), `${s.name} p ${r.pValue} vs ${s.shapiro.p}`).toBe(
        true,
      );
    }
  });

  it("kstwo.sf matches scipy on every branch", () => {
    for (const { n, d, sf } of fixture.kstwo) {
      const p = kolmogorovSf(n, d);
      expect(close(p, sf, 1e-9, 1e-14), `n=${n} d=${d}: ${p} vs ${sf}`).toBe(true);
    }
  });

  it("KS against N(median, 6) matches scipy.stats.kstest", () => {
    for (const s of fixture.samples) {
      const r = ksTestNormal(s.values, s.ks.mean, s.ks.sd);
      expect(close(r.statistic, s.ks.D, 1e-12, 1e-14), `${s.name} D`).toBe(true);
      expect(close(r.pValue, s.ks.p, 1e-9, 1e-14), `${s.name} p ${r.pValue} vs ${s.ks.p}`).toBe(true);
    }
  });

  it("rejects unusable input with one clear error", () => {
    expect(() => shapiroWilk([1, 2])).toThrow(/at least 3 values/);
    expect(() => ksTestNormal([1, 2, 3], 0, 0)).toThrow(/sd > 0/);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});
