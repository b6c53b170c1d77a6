import { type Coordinate, coord } from "../core/coordinate.ts";
import { OrganelleError } from "../core/errors.ts";
import type { Rng } from "../core/random.ts";
import type { Roi } from "../core/roi.ts";
import type { SamplingConfig } from "./config.ts";
import {
  gridBox,
  gridVoxels,
  type OpenedSource,
  readBinaryBlock,
  readLabelBlock,
  voxelCount,
} from "./sources.ts";

/*
 * Where the next training block comes from (SPEC §4, ASEM's gunpowder pipeline):
 * - a (cell, ROI) pair is drawn with probability proportional to the ROI's volume, i.e. datasets are
 *   chosen in proportion to their annotated volume;
 * - the network's output block is placed uniformly at random inside the ROI (a ROI smaller than the
 *   output along an axis is covered by it instead; the voxels outside the ROI then carry no loss);
 * - mask rejection (ASEM's code): when at most `maskMinInside` of the output block is inside the cell
 *   mask (beyond the mask array counts as inside: mask padding 1), it is rejected with probability
 *   `rejectMaskProbability` (0.95); the paper's "reject when > 25 % outside" is probability 1;
 * - foreground rejection: below `foregroundMin` (5 %) foreground in the output block it is rejected
 *   with probability `rejectBackgroundProbability` (0.9);
 * - a rejected block starts over from the (cell, ROI) draw, like gunpowder's Reject above a
 *   RandomProvider.
 * Only the output block's labels and mask are read to decide; the caller reads the rest after.
 */

export interface SampleCandidate {
  readonly source: number;
  readonly roi: number;
  /** World box of the network output block. */
  readonly output: Roi;
  /** Fraction of the output block that is foreground / inside the cell mask. */
  readonly foreground: number;
  readonly inside: number;
}

export type RejectReason = "mask" | "foreground";

export interface Sample extends SampleCandidate {
  /** Candidates drawn for this sample (1 = the first was accepted). */
  readonly tries: number;
}

/** Reads the fractions that decide rejection; the default reads labels and mask from the store. */
export type BlockStats = (
  source: OpenedSource,
  output: Roi,
  signal?: AbortSignal,
) => Promise<{ foreground: number; inside: number }>;

export const storeBlockStats: BlockStats = async (src, output, signal) => {
  const [labels, mask] = await Promise.all([
    readLabelBlock(src, output, signal),
    readBinaryBlock(src, "mask", output, signal),
  ]);
  let fg = 0;
  for (let i = 0; i < labels.length; i++) fg += labels[i]!;
  let inside = labels.length;
  if (mask) {
    inside = 0;
    for (let i = 0; i < mask.length; i++) inside += mask[i]!;
  }
  return { foreground: fg / labels.length, inside: inside / labels.length };
};

export interface SamplerOptions {
  /** Observes every candidate and the decision about it (tests, statistics). */
  readonly onCandidate?: (c: SampleCandidate, rejected: RejectReason | null) => void;
  readonly stats?: BlockStats;
}

interface Item {
  readonly source: number;
  readonly roi: number;
  readonly weight: number;
}

export class Sampler {
  private readonly items: readonly Item[];
  private readonly weights: readonly number[];

  constructor(
    readonly sources: readonly OpenedSource[],
    /** Network output shape in voxels. */
    readonly outputShape: Coordinate,
    readonly config: SamplingConfig,
    private readonly opts: SamplerOptions = {},
  ) {
    const items: Item[] = [];
    sources.forEach((s, si) => {
      s.rois.forEach((r, ri) => {
        items.push({
          source: si,
          roi: ri,
          weight: voxelCount(r.roi, s.voxelSize) * s.voxelSize[0] * s.voxelSize[1] * s.voxelSize[2],
        });
      });
    });
    if (items.length === 0) throw new OrganelleError("InvalidArgument", "no training ROIs to sample from");
    this.items = items;
    this.weights = items.map((i) => i.weight);
  }

  /** Probability of each (source, ROI) pair per draw, in the order of sources and their ROIs. */
  get itemProbabilities(): { source: number; roi: number; p: number }[] {
    const total = this.weights.reduce((a, b) => a + b, 0);
    return this.items.map((i) => ({ source: i.source, roi: i.roi, p: i.weight / total }));
  }

  /** Draws one candidate position (no reading). */
  drawCandidate(rng: Rng): { source: number; roi: number; output: Roi } {
    const item = this.items[rng.weighted(this.weights)]!;
    const src = this.sources[item.source]!;
    const roi = src.rois[item.roi]!.roi;
    const box = gridVoxels(src, roi);
    const begin = [0, 1, 2].map((d) => {
      const b = box.begin[d]!;
      const s = box.shape[d]!;
      const o = this.outputShape[d]!;
      return s >= o ? rng.int(b, b + s - o) : rng.int(b + s - o, b);
    });
    return {
      source: item.source,
      roi: item.roi,
      output: gridBox(src, coord(begin[0]!, begin[1]!, begin[2]!), this.outputShape),
    };
  }

  /** The next accepted sample; every draw comes from `rng`, in a fixed order. */
  async next(rng: Rng, signal?: AbortSignal): Promise<Sample> {
    const stats = this.opts.stats ?? storeBlockStats;
    const c = this.config;
    for (let tries = 1; tries <= c.maxTries; tries++) {
      const cand = this.drawCandidate(rng);
      const src = this.sources[cand.source]!;
      const s = await stats(src, cand.output, signal);
      const full: SampleCandidate = { ...cand, ...s };
      let rejected: RejectReason | null = null;
      if (s.inside <= c.maskMinInside && c.rejectMaskProbability > 0 && rng.chance(c.rejectMaskProbability)) {
        rejected = "mask";
      } else if (
        s.foreground < c.foregroundMin &&
        c.rejectBackgroundProbability > 0 &&
        rng.chance(c.rejectBackgroundProbability)
      ) {
        rejected = "foreground";
      }
      this.opts.onCandidate?.(full, rejected);
      if (!rejected) return { ...full, tries };
    }
    throw new OrganelleError(
      "InvalidArgument",
      `sampling: ${c.maxTries} candidate blocks in a row were rejected; the training ROIs are almost all outside the mask (or rejection probabilities are 1): check the mask and ROIs, or lower sampling.mask_reject_probability`,
    );
  }
}
