import type { Block, BlockContext } from "../blockwise/types.ts";
import { Volume } from "../store/volume.ts";

/*
 * One block of an evaluation: over the voxels that count (inside the mask, outside the exclusion zone),
 * how many of each stored probability value 0..255 are organelle in the ground truth (`fg`) and how
 * many are not (`bg`). Every metric at every threshold follows from these two histograms (metrics.ts),
 * so one pass serves the whole threshold sweep, and blocks add up.
 */

export interface ArrayRef {
  readonly array: string;
  readonly scale: number;
}

export interface HistogramParams {
  readonly dataset: string;
  /** uint8 probabilities; the block's ROI lies on its grid. */
  readonly prob: ArrayRef;
  /** Ground truth: non-zero = organelle (binary or instance ids). */
  readonly labels: ArrayRef;
  readonly mask: ArrayRef | null;
  readonly exclusion: ArrayRef | null;
}

export interface Histograms {
  readonly fg: number[];
  readonly bg: number[];
}

async function read(p: HistogramParams, ref: ArrayRef, block: Block, signal: AbortSignal) {
  const v = await Volume.open(p.dataset, ref.array, { scale: ref.scale });
  return v.readRoi(block.writeRoi, { signal });
}

export async function evaluateHistogramBlock(
  block: Block,
  p: HistogramParams,
  ctx: BlockContext,
): Promise<Histograms> {
  const [prob, labels, mask, exclusion] = await Promise.all([
    read(p, p.prob, block, ctx.signal),
    read(p, p.labels, block, ctx.signal),
    p.mask ? read(p, p.mask, block, ctx.signal) : null,
    p.exclusion ? read(p, p.exclusion, block, ctx.signal) : null,
  ]);
  const fg = new Float64Array(256);
  const bg = new Float64Array(256);
  const n = prob.length;
  const pr = prob as Uint8Array;
  const big = labels instanceof BigUint64Array;
  for (let i = 0; i < n; i++) {
    if (mask && (mask[i] === 0 || mask[i] === 0n)) continue;
    if (exclusion && exclusion[i] !== 0 && exclusion[i] !== 0n) continue;
    const isFg = big ? labels[i] !== 0n : labels[i] !== 0;
    if (isFg) fg[pr[i]!]!++;
    else bg[pr[i]!]!++;
  }
  return { fg: Array.from(fg), bg: Array.from(bg) };
}
