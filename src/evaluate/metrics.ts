import { type Confusion, scores } from "../learn/metrics.ts";
import { thresholdLevel } from "../predict/threshold-level.ts";
import type { Histograms } from "./histogram-task.ts";

/*
 * Voxel-wise metrics (SPEC §7) from the histograms of stored probabilities (histogram-task.ts): at
 * threshold t a voxel is predicted organelle when its value v >= ceil(255 t) (threshold-level.ts).
 *   precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = TP / (TP + (FP + FN) / 2) (= Dice),
 *   IoU = TP / (TP + FP + FN).
 * Empty cases follow the training validation (src/learn/metrics.ts): a ratio with nothing to count is 1
 * when nothing was missed or invented, else 0; IoU is 1 when there is nothing at all.
 */

export interface Metrics {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly iou: number;
}

export interface SweepPoint extends Metrics {
  readonly threshold: number;
}

export function emptyHistograms(): Histograms {
  return { fg: new Array<number>(256).fill(0), bg: new Array<number>(256).fill(0) };
}

/** Adds `b` into `a`. */
export function addHistograms(a: Histograms, b: Histograms): void {
  for (let v = 0; v < 256; v++) {
    a.fg[v]! += b.fg[v]!;
    a.bg[v]! += b.bg[v]!;
  }
}

export function metricsAt(h: Histograms, threshold: number): Metrics {
  const k = thresholdLevel(threshold);
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (let v = 0; v < 256; v++) {
    if (v >= k) {
      c.tp += h.fg[v]!;
      c.fp += h.bg[v]!;
    } else {
      c.fn += h.fg[v]!;
      c.tn += h.bg[v]!;
    }
  }
  return withScores(c);
}

export function withScores(c: Confusion): Metrics {
  const s = scores(c);
  const union = c.tp + c.fp + c.fn;
  return { tp: c.tp, fp: c.fp, fn: c.fn, tn: c.tn, ...s, iou: union > 0 ? c.tp / union : 1 };
}

/** Voxels that count (inside the mask, outside the exclusion zone). */
export function counted(h: Histograms): number {
  let n = 0;
  for (let v = 0; v < 256; v++) n += h.fg[v]! + h.bg[v]!;
  return n;
}

/** Thresholds from..to (inclusive) by step, rounded to the step's decimals. */
export function thresholdRange(from: number, to: number, step: number): number[] {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + 1);
  const out: number[] = [];
  for (let i = 0; ; i++) {
    const t = Number((from + i * step).toFixed(decimals));
    if (t > to + 1e-9) break;
    out.push(t);
  }
  return out;
}

export const DEFAULT_SWEEP = thresholdRange(0.05, 0.95, 0.05);

export function sweep(h: Histograms, thresholds: readonly number[]): SweepPoint[] {
  return thresholds.map((threshold) => ({ threshold, ...metricsAt(h, threshold) }));
}

/** The sweep point with the highest F1 (the lowest threshold among equals). */
export function bestPoint(points: readonly SweepPoint[]): SweepPoint {
  let best = points[0]!;
  for (const p of points) if (p.f1 > best.f1) best = p;
  return best;
}
