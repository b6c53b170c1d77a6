import { invalidArgument } from "../core/errors.ts";

/*
 * Probabilities are stored as uint8 v = round(p * 255). A voxel belongs to the organelle at threshold t
 * when v / 255 >= t, i.e. v >= level(t) = ceil(255 t): prediction, re-thresholding, fusion and
 * evaluation all use this one rule, so a segmentation and the evaluation at the same threshold agree.
 */

export function checkThreshold(t: number, what = "--threshold"): number {
  if (!Number.isFinite(t) || t < 0 || t > 1) {
    throw invalidArgument(`${what} ${t}: expected a probability between 0 and 1`);
  }
  return t;
}

/** The smallest stored value (0..255) that counts as the organelle at threshold t. */
export function thresholdLevel(t: number): number {
  return Math.max(0, Math.min(256, Math.ceil(t * 255 - 1e-9)));
}
