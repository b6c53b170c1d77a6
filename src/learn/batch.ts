import { add, type Coordinate, coord, sub } from "../core/coordinate.ts";
import type { Rng, RngState } from "../core/random.ts";
import type { Roi } from "../core/roi.ts";
import type { Engine } from "../engine/engine.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import { type AugmentParams, drawAugment, engineTransform, sourceBox, transformFor } from "./augment.ts";
import type { AugmentConfig } from "./config.ts";
import type { Sample, Sampler } from "./sampling.ts";
import type { NetworkShape } from "./shapes.ts";
import {
  gridBox,
  gridVoxels,
  type OpenedSource,
  RAW_PADDING,
  readBinaryBlock,
  readLabelBlock,
  readRawBlock,
} from "./sources.ts";
import { balancedWeights, FREQUENCY_CLIP, unitWeights, validVoxels } from "./weights.ts";

/*
 * One training batch, from the sampler's position to the tensors of a train step:
 *   sample (sampling.ts) -> augmentation drawn (augment.ts) -> read raw, labels, mask, exclusion over the
 *   source block the drawn transform needs (readBox with SPEC §4 padding) -> the engine warps raw to the
 *   network input (intensity augmentation, [-1, 1]) and labels + the "counts" mask to the network output
 *   -> class-balanced weights (weights.ts) over the warped labels.
 * All draws happen in order on two streams (sampling, augment), so the batch for step k depends only on
 * the streams' state before it: the state after each batch travels with it and goes into checkpoints.
 */

export interface PreparedBatch {
  /** The training step this batch is for (1-based). */
  readonly step: number;
  readonly raw: Tensor<Float32Array>;
  readonly labels: Tensor<Uint8Array>;
  readonly weights: Tensor<Float32Array>;
  readonly samples: readonly Sample[];
  /** Foreground fraction among the voxels that count, per sample. */
  readonly foreground: readonly number[];
  /** The random streams' state after drawing this batch. */
  readonly rng: { readonly sampling: RngState; readonly augment: RngState };
  /** Milliseconds spent sampling + reading, and waiting for the engine's augmentation. */
  readonly readMs: number;
  readonly augmentMs: number;
}

export interface BatchSetup {
  readonly sources: readonly OpenedSource[];
  readonly sampler: Sampler;
  readonly engine: Engine;
  readonly shape: NetworkShape;
  readonly augment: AugmentConfig;
  readonly batchSize: number;
  /** The training ROIs' foreground fraction the weights balance with; null: each block's own. */
  readonly foregroundFraction: number | null;
  /** false: no class balance, every voxel that counts weighs 1. */
  readonly balance: boolean;
}

/** 1 where a voxel of `block` (world box on the source grid) lies inside `roi`. */
export function insideMask(src: OpenedSource, block: Roi, roi: Roi): Uint8Array {
  const b = gridVoxels(src, block);
  const r = gridVoxels(src, roi.intersect(block));
  const out = new Uint8Array(b.shape[0] * b.shape[1] * b.shape[2]);
  if (r.shape.some((s) => s <= 0)) return out;
  const o = sub(r.begin, b.begin);
  for (let z = o[0]; z < o[0] + r.shape[0]; z++)
    for (let y = o[1]; y < o[1] + r.shape[1]; y++) {
      const row = (z * b.shape[1] + y) * b.shape[2];
      out.fill(1, row + o[2], row + o[2] + r.shape[2]);
    }
  return out;
}

interface Warped {
  readonly raw: Float32Array;
  readonly labels: Uint8Array;
  readonly weights: Float32Array;
  readonly foreground: number;
}

export class BatchMaker {
  constructor(
    private readonly setup: BatchSetup,
    private readonly samplingRng: Rng,
    private readonly augmentRng: Rng,
  ) {}

  /** Draws, reads and augments the batch for `step`. Calls must not overlap (draws are sequential). */
  async make(step: number, signal?: AbortSignal): Promise<PreparedBatch> {
    const s = this.setup;
    const t0 = performance.now();
    const samples: Sample[] = [];
    const pending: Promise<Warped>[] = [];
    let augmentStart = 0;
    for (let b = 0; b < s.batchSize; b++) {
      const sample = await s.sampler.next(this.samplingRng, signal);
      const src = s.sources[sample.source]!;
      const params = drawAugment(this.augmentRng, s.augment, s.shape.input, src.voxelSize);
      samples.push(sample);
      const read = await this.read(src, sample, params, signal);
      if (!augmentStart) augmentStart = performance.now();
      pending.push(this.warp(read));
    }
    const rng = { sampling: this.samplingRng.state(), augment: this.augmentRng.state() };
    const readMs = augmentStart - t0;
    const warped = await Promise.all(pending);
    const augmentMs = performance.now() - augmentStart;
    const [si, so] = [s.shape.input, s.shape.output];
    const nIn = si[0] * si[1] * si[2];
    const nOut = so[0] * so[1] * so[2];
    const raw = new Float32Array(nIn * s.batchSize);
    const labels = new Uint8Array(nOut * s.batchSize);
    const weights = new Float32Array(nOut * s.batchSize);
    warped.forEach((w, b) => {
      raw.set(w.raw, b * nIn);
      labels.set(w.labels, b * nOut);
      weights.set(w.weights, b * nOut);
    });
    return {
      step,
      raw: tensor(raw, [s.batchSize, 1, ...si]),
      labels: tensor(labels, [s.batchSize, ...so]),
      weights: tensor(weights, [s.batchSize, ...so]),
      samples,
      foreground: warped.map((w) => w.foreground),
      rng,
      readMs,
      augmentMs,
    };
  }

  private async read(src: OpenedSource, sample: Sample, params: AugmentParams, signal?: AbortSignal) {
    const s = this.setup;
    const subsample = s.augment.elastic.subsample;
    const outBegin = gridVoxels(src, sample.output).begin;
    const inputCorner = sub(outBegin, s.shape.contextBefore);
    const box = sourceBox(params, s.shape.input, subsample);
    const readRoi = gridBox(src, add(inputCorner, box.begin), box.shape);
    const [raw, labels, mask, exclusion] = await Promise.all([
      readRawBlock(src, readRoi, signal),
      readLabelBlock(src, readRoi, signal),
      readBinaryBlock(src, "mask", readRoi, signal),
      readBinaryBlock(src, "exclusion", readRoi, signal),
    ]);
    const inRoi = insideMask(src, readRoi, src.rois[sample.roi]!.roi);
    const valid = validVoxels(labels.length, mask, exclusion, inRoi);
    return { params, box, raw, labels, valid };
  }

  private async warp(r: {
    params: AugmentParams;
    box: { begin: Coordinate; shape: Coordinate };
    raw: Float32Array;
    labels: Uint8Array;
    valid: Uint8Array;
  }): Promise<Warped> {
    const s = this.setup;
    const sub4 = s.augment.elastic.subsample;
    const whole = { begin: coord(0, 0, 0), shape: s.shape.input };
    const crop = { begin: s.shape.contextBefore, shape: s.shape.output };
    const trRaw = transformFor(r.params, s.shape.input, whole, r.box.begin, sub4);
    const trLab = transformFor(r.params, s.shape.input, crop, r.box.begin, sub4);
    const intensity = r.params.intensity ? { ...r.params.intensity, clip: [0, 1] as const } : undefined;
    const [rawOut, labOut] = await Promise.all([
      s.engine.augment({
        arrays: { raw: tensor(r.raw, [...r.box.shape]) },
        ...engineTransform(trRaw),
        sampling: { raw: { mode: s.augment.elastic.rawInterpolation, fill: RAW_PADDING } },
        ...(intensity ? { intensity } : {}),
        rescale: { scale: 2, shift: -1 },
      }),
      s.engine.augment({
        arrays: { labels: tensor(r.labels, [...r.box.shape]), valid: tensor(r.valid, [...r.box.shape]) },
        ...engineTransform(trLab),
        sampling: { labels: { mode: "nearest", fill: 0 }, valid: { mode: "nearest", fill: 0 } },
      }),
    ]);
    const labels = labOut.labels!.data as Uint8Array;
    const valid = labOut.valid!.data as Uint8Array;
    const bal = s.balance
      ? balancedWeights(labels, valid, FREQUENCY_CLIP, s.foregroundFraction ?? undefined)
      : unitWeights(labels, valid);
    return {
      raw: rawOut.raw!.data as Float32Array,
      labels,
      weights: bal.weights,
      foreground: bal.foreground,
    };
  }
}
