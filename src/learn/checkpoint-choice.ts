/*
 * Which checkpoint to use (SPEC §4). Two answers, both reported:
 * - best: the checkpoint with the highest validation F1 (ties: the earlier one);
 * - plateau ("fit regime", ASEM's early stopping): among the validated checkpoints in step order, the
 *   longest run of consecutive checkpoints whose validation loss is within `tolerance` of the minimum
 *   (loss <= min * (1 + tolerance), relative; ties between runs: the one holding the minimum, then the
 *   earlier), and the checkpoint in its middle (the lower middle for an even count). A single
 *   checkpoint at the minimum is a plateau of one.
 */

export interface ValidatedCheckpoint {
  readonly step: number;
  readonly loss: number;
  readonly f1: number;
}

export interface Plateau {
  readonly from: number;
  readonly to: number;
  readonly chosen: number;
  readonly count: number;
  readonly minLoss: number;
  readonly tolerance: number;
}

export interface CheckpointChoice {
  readonly best: ValidatedCheckpoint | null;
  readonly plateau: Plateau | null;
}

export function chooseCheckpoints(list: readonly ValidatedCheckpoint[], tolerance: number): CheckpointChoice {
  const cps = [...list].filter((c) => Number.isFinite(c.loss)).sort((a, b) => a.step - b.step);
  if (cps.length === 0) return { best: null, plateau: null };
  let best = cps[0]!;
  for (const c of cps) if (c.f1 > best.f1) best = c;
  let minLoss = Number.POSITIVE_INFINITY;
  let minIndex = 0;
  cps.forEach((c, i) => {
    if (c.loss < minLoss) {
      minLoss = c.loss;
      minIndex = i;
    }
  });
  const limit = minLoss >= 0 ? minLoss * (1 + tolerance) : minLoss * (1 - tolerance);
  let bestRun: [number, number] = [minIndex, minIndex];
  let start = -1;
  const consider = (a: number, b: number) => {
    const len = b - a + 1;
    const cur = bestRun[1] - bestRun[0] + 1;
    const holdsMin = a <= minIndex && minIndex <= b;
    const curHoldsMin = bestRun[0] <= minIndex && minIndex <= bestRun[1];
    if (len > cur || (len === cur && holdsMin && !curHoldsMin)) bestRun = [a, b];
  };
  for (let i = 0; i <= cps.length; i++) {
    const ok = i < cps.length && cps[i]!.loss <= limit;
    if (ok && start < 0) start = i;
    if (!ok && start >= 0) {
      consider(start, i - 1);
      start = -1;
    }
  }
  const mid = bestRun[0] + Math.floor((bestRun[1] - bestRun[0]) / 2);
  return {
    best,
    plateau: {
      from: cps[bestRun[0]]!.step,
      to: cps[bestRun[1]]!.step,
      chosen: cps[mid]!.step,
      count: bestRun[1] - bestRun[0] + 1,
      minLoss,
      tolerance,
    },
  };
}
