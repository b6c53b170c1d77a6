/*
 * Voxel-wise validation metrics (SPEC §7): precision TP/(TP+FP), recall TP/(TP+FN), F1 = TP/(TP +
 * (FP+FN)/2) (= Dice), counted only where the voxel counts (inside the mask, outside the exclusion
 * zone). The loss is the training loss on the same voxels: class-balanced cross-entropy, averaged over
 * all voxels of the block like the engine's (voxels that do not count weigh 0).
 */

import { balancedWeights } from "./weights.ts";

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface Scores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

export function emptyConfusion(): Confusion {
  return { tp: 0, fp: 0, fn: 0, tn: 0 };
}

/** Adds the counts of `prob >= threshold` against `labels` over voxels with valid = 1. */
export function accumulate(
  c: Confusion,
  prob: Float32Array,
  labels: Uint8Array,
  valid: Uint8Array | null,
  threshold: number,
): void {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < prob.length; i++) {
    if (valid && valid[i] === 0) continue;
    const p = prob[i]! >= threshold;
    const l = labels[i] !== 0;
    if (p) {
      if (l) tp++;
      else fp++;
    } else if (l) fn++;
    else tn++;
  }
  c.tp += tp;
  c.fp += fp;
  c.fn += fn;
  c.tn += tn;
}

/** Precision, recall, F1; a ratio with nothing to count is 1 when nothing was missed or invented (empty vs empty), else 0. */
export function scores(c: Confusion): Scores {
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : c.fn === 0 ? 1 : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : c.fp === 0 ? 1 : 0;
  const denom = c.tp + (c.fp + c.fn) / 2;
  const f1 = denom > 0 ? c.tp / denom : 1;
  return { precision, recall, f1 };
}

const EPS = 1e-7;

/**
 * The class-balanced binary cross-entropy of foreground probabilities, mean over all voxels (weights
 * from `balancedWeights` over the valid voxels). Returns the sum and the voxel count so blocks can be pooled.
 */
export function balancedCrossEntropy(
  prob: Float32Array,
  labels: Uint8Array,
  valid: Uint8Array | null,
): { sum: number; voxels: number } {
  const w = balancedWeights(labels, valid).weights;
  let sum = 0;
  for (let i = 0; i < prob.length; i++) {
    const wi = w[i]!;
    if (wi === 0) continue;
    const p = Math.min(1 - EPS, Math.max(EPS, prob[i]!));
    sum -= wi * (labels[i] !== 0 ? Math.log(p) : Math.log(1 - p));
  }
  return { sum, voxels: prob.length };
}
