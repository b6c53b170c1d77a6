/*
 * Loss weights (SPEC §4): voxels weighted inversely to their class frequency so that sparse organelles
 * count as much as background, as gunpowder's BalanceLabels does in ASEM's code: with the foreground
 * fraction f among the voxels that count (clipped to [0.01, 0.99], i.e. at most 1:99 rebalancing),
 *   w(foreground) = 1 / (2 f),  w(background) = 1 / (2 (1 - f)),
 * so both classes carry half of the total weight. Voxels that do not count — outside the cell mask,
 * inside the exclusion zone, outside the annotated ROI — weigh 0 and do not enter f. The weights are
 * computed per block, after augmentation (`loss.balance: block`), or with f measured once over all the
 * training ROIs (`loss.balance: dataset`, class-frequency.ts): then a block holding the tip of one
 * mitochondrion does not weigh its few foreground voxels 50:1 against everything else in it.
 */

export const FREQUENCY_CLIP: readonly [number, number] = [0.01, 0.99];

export interface BalanceResult {
  readonly weights: Float32Array;
  /** Voxels that count. */
  readonly counted: number;
  /** Foreground fraction among them before clipping (NaN when none count). */
  readonly foreground: number;
  readonly weightForeground: number;
  readonly weightBackground: number;
}

/**
 * Class-balanced weights for binary `labels` (0/1), restricted to `valid` (1 = counts; null: all count).
 */
export function balancedWeights(
  labels: Uint8Array,
  valid: Uint8Array | null,
  clip: readonly [number, number] = FREQUENCY_CLIP,
  /** The foreground fraction to balance with instead of the block's own (`loss.balance: dataset`). */
  fixedForeground?: number,
): BalanceResult {
  const n = labels.length;
  let counted = 0;
  let fg = 0;
  for (let i = 0; i < n; i++) {
    if (valid && valid[i] === 0) continue;
    counted++;
    fg += labels[i] !== 0 ? 1 : 0;
  }
  const weights = new Float32Array(n);
  if (counted === 0) {
    return { weights, counted, foreground: Number.NaN, weightForeground: 0, weightBackground: 0 };
  }
  const f = fg / counted;
  const fc = Math.min(clip[1], Math.max(clip[0], fixedForeground ?? f));
  const wFg = 1 / (2 * fc);
  const wBg = 1 / (2 * (1 - fc));
  for (let i = 0; i < n; i++) {
    if (valid && valid[i] === 0) continue;
    weights[i] = labels[i] !== 0 ? wFg : wBg;
  }
  return { weights, counted, foreground: f, weightForeground: wFg, weightBackground: wBg };
}

/** Weight 1 for every voxel that counts (`loss.balance: none`), in `balancedWeights`' form. */
export function unitWeights(labels: Uint8Array, valid: Uint8Array | null): BalanceResult {
  const weights = new Float32Array(labels.length);
  let counted = 0;
  let fg = 0;
  for (let i = 0; i < labels.length; i++) {
    if (valid && valid[i] === 0) continue;
    weights[i] = 1;
    counted++;
    if (labels[i] !== 0) fg++;
  }
  return {
    weights,
    counted,
    foreground: counted ? fg / counted : Number.NaN,
    weightForeground: counted ? 1 : 0,
    weightBackground: counted ? 1 : 0,
  };
}

/** mask AND NOT exclusion AND inside-ROI as one 0/1 array (null arrays: no restriction). */
export function validVoxels(
  n: number,
  mask: Uint8Array | null,
  exclusion: Uint8Array | null,
  inRoi: Uint8Array | null,
): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const ok =
      (mask === null || mask[i] !== 0) &&
      (exclusion === null || exclusion[i] === 0) &&
      (inRoi === null || inRoi[i] !== 0);
    out[i] = ok ? 1 : 0;
  }
  return out;
}
