import { describe, expect, it } from "vitest";
import { randomFloats } from "../engine/testing.ts";
import { thresholdLevel } from "../predict/threshold-level.ts";
import { addHistograms, bestPoint, emptyHistograms, metricsAt, sweep, thresholdRange } from "./metrics.ts";

describe("metrics from probability histograms", () => {
  it("equal counting voxel by voxel, at every threshold", () => {
    const n = 5000;
    const p = randomFloats(n, 3).map((v) => Math.floor(v * 256));
    const l = randomFloats(n, 4).map((v, i) => (v < 0.3 + p[i]! / 512 ? 1 : 0));
    const h = emptyHistograms();
    for (let i = 0; i < n; i++) (l[i] ? h.fg : h.bg)[p[i]!]!++;
    for (const t of [0, 0.05, 0.2, 0.3, 0.5, 0.7, 0.95, 1]) {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (let i = 0; i < n; i++) {
        const pos = p[i]! / 255 >= t - 1e-12;
        if (pos && l[i]) tp++;
        else if (pos) fp++;
        else if (l[i]) fn++;
      }
      const m = metricsAt(h, t);
      expect([m.tp, m.fp, m.fn, m.tp + m.fp + m.fn + m.tn]).toEqual([tp, fp, fn, n]);
      expect(m.f1).toBeCloseTo(tp / (tp + (fp + fn) / 2), 12);
      expect(m.iou).toBeCloseTo(tp / (tp + fp + fn), 12);
    }
  });

  it("pools blocks, sweeps thresholds and picks the best F1", () => {
    const a = emptyHistograms();
    const b = emptyHistograms();
    a.fg[200] = 10;
    a.bg[100] = 5;
    b.fg[60] = 2;
    b.bg[250] = 1;
    addHistograms(a, b);
    expect(metricsAt(a, 0.5)).toMatchObject({ tp: 10, fp: 1, fn: 2, tn: 5 });
    const points = sweep(a, thresholdRange(0.05, 0.95, 0.05));
    expect(points.map((x) => x.threshold)).toEqual([
      0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
    ]);
    // 0.4..0.75 leaves out the background at 100 and keeps the organelle at 200: F1 10 / 11.5, the best
    expect(bestPoint(points).threshold).toBe(0.4);
    expect(bestPoint(points).f1).toBeCloseTo(10 / 11.5, 12);
    expect(metricsAt(emptyHistograms(), 0.5)).toMatchObject({ precision: 1, recall: 1, f1: 1, iou: 1 });
  });

  it("thresholds stored values with one rule: v >= ceil(255 t)", () => {
    expect(thresholdLevel(0.5)).toBe(128);
    expect(thresholdLevel(0.4)).toBe(102);
    expect(thresholdLevel(0.2)).toBe(51);
    expect(thresholdLevel(0)).toBe(0);
    expect(thresholdLevel(1)).toBe(255);
  });
});
