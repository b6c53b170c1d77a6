import { add, type Coordinate, coord, min, sub } from "../core/coordinate.ts";
import type { Roi } from "../core/roi.ts";
import type { InferenceEngine } from "../engine/engine.ts";
import { tensor } from "../engine/tensor.ts";
import { insideMask } from "./batch.ts";
import { accumulate, type Confusion, emptyConfusion, scores } from "./metrics.ts";
import { inferenceShape, inputForOutput, type NetworkShape } from "./shapes.ts";
import {
  gridBox,
  gridVoxels,
  type OpenedSource,
  readBinaryBlock,
  readLabelBlock,
  readRawBlock,
} from "./sources.ts";
import type { UNetSpec } from "./unet-spec.ts";
import { FREQUENCY_CLIP } from "./weights.ts";

/*
 * Validation of the current weights on hold-out ROIs: each ROI is predicted block-wise with the
 * engine's forward over valid-size tiles that cover it (output tiles step by the network output, inputs
 * carry the context, raw padded with 0.5 beyond the data, no augmentation), and scored at the threshold
 * (0.5) inside the mask and outside the exclusion zone: precision, recall, F1, and the training loss
 * (class-balanced cross-entropy with the ROI's own class frequencies, mean over the ROI's voxels).
 * Tiles are scored as they arrive, so memory stays at one tile whatever the ROI's size.
 */

export interface RoiValidation {
  readonly source: string;
  readonly roi: string;
  readonly loss: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** Voxels that count (inside the mask, outside the exclusion zone). */
  readonly counted: number;
}

export interface Validation {
  readonly rois: readonly RoiValidation[];
  /** Means over the ROIs (each ROI weighs the same, so a small naive-cell ROI counts fully). */
  readonly loss: number;
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
  readonly seconds: number;
}

export interface ValidateOptions {
  readonly threshold: number;
  /** Largest network input per tile (voxels). */
  readonly maxInput: Coordinate;
  /** Class-balanced validation loss (the ROI's frequencies; default) or plain, as `loss.balance: none` trains. */
  readonly balanced?: boolean;
  readonly signal?: AbortSignal;
}

const EPS = 1e-7;

/** The output channel holding the foreground probability. */
export function foregroundChannel(spec: UNetSpec): number {
  return spec.head === "softmax2" ? 1 : 0;
}

/** Output tiles (world boxes of the network output) covering `roi`, and the network shape they use. */
export function planTiles(
  spec: UNetSpec,
  src: OpenedSource,
  roi: Roi,
  maxInput: Coordinate,
): { shape: NetworkShape; tiles: Roi[] } {
  const largest = inferenceShape(spec, maxInput);
  const box = gridVoxels(src, roi);
  // A ROI smaller than the largest output gets the smallest tile that covers it.
  const shape = inputForOutput(spec, min(box.shape, largest.output));
  const o = shape.output;
  const counts = [0, 1, 2].map((d) => Math.ceil(box.shape[d]! / o[d]!));
  const tiles: Roi[] = [];
  for (let i = 0; i < counts[0]!; i++)
    for (let j = 0; j < counts[1]!; j++)
      for (let k = 0; k < counts[2]!; k++) {
        const begin = add(box.begin, coord(i * o[0], j * o[1], k * o[2]));
        tiles.push(gridBox(src, begin, o));
      }
  return { shape, tiles };
}

export async function validateRoi(
  engine: InferenceEngine,
  spec: UNetSpec,
  src: OpenedSource,
  name: string,
  roi: Roi,
  o: ValidateOptions,
): Promise<RoiValidation> {
  const { shape, tiles } = planTiles(spec, src, roi, o.maxInput);
  const channel = foregroundChannel(spec);
  const conf: Confusion = emptyConfusion();
  // Cross-entropy sums per class, weighted once the ROI's class frequencies are known.
  let lossFg = 0;
  let lossBg = 0;
  let nFg = 0;
  let nBg = 0;
  for (const tile of tiles) {
    const input = gridBox(src, sub(gridVoxels(src, tile).begin, shape.contextBefore), shape.input);
    const raw = await readRawBlock(src, input, o.signal);
    for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! * 2 - 1;
    const pred = await engine.forward(tensor(raw, [1, 1, ...shape.input]), {
      channels: [channel],
      output: "float32",
    });
    const prob = pred.data as Float32Array;
    const [labels, mask, exclusion] = await Promise.all([
      readLabelBlock(src, tile, o.signal),
      readBinaryBlock(src, "mask", tile, o.signal),
      readBinaryBlock(src, "exclusion", tile, o.signal),
    ]);
    const inRoi = insideMask(src, tile, roi);
    const valid = new Uint8Array(labels.length);
    for (let i = 0; i < valid.length; i++) {
      valid[i] = inRoi[i]! && (!mask || mask[i]) && !exclusion?.[i] ? 1 : 0;
    }
    accumulate(conf, prob, labels, valid, o.threshold);
    for (let i = 0; i < prob.length; i++) {
      if (!valid[i]) continue;
      const p = Math.min(1 - EPS, Math.max(EPS, prob[i]!));
      if (labels[i]) {
        lossFg -= Math.log(p);
        nFg++;
      } else {
        lossBg -= Math.log(1 - p);
        nBg++;
      }
    }
  }
  const counted = nFg + nBg;
  let loss = Number.NaN;
  if (counted > 0) {
    const f = Math.min(FREQUENCY_CLIP[1], Math.max(FREQUENCY_CLIP[0], nFg / counted));
    const roiVoxels = gridVoxels(src, roi).shape.reduce((a, b) => a * b, 1);
    loss =
      o.balanced === false
        ? (lossFg + lossBg) / roiVoxels
        : (lossFg / (2 * f) + lossBg / (2 * (1 - f))) / roiVoxels;
  }
  return {
    source: src.name,
    roi: name,
    loss,
    ...scores(conf),
    tp: conf.tp,
    fp: conf.fp,
    fn: conf.fn,
    counted,
  };
}

/** Validates on every ROI of every source. */
export async function validate(
  engine: InferenceEngine,
  spec: UNetSpec,
  sources: readonly OpenedSource[],
  o: ValidateOptions,
): Promise<Validation> {
  const t0 = performance.now();
  const rois: RoiValidation[] = [];
  for (const src of sources)
    for (const r of src.rois) rois.push(await validateRoi(engine, spec, src, r.name, r.roi, o));
  const mean = (f: (r: RoiValidation) => number) => {
    const v = rois.map(f).filter(Number.isFinite);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
  };
  return {
    rois,
    loss: mean((r) => r.loss),
    f1: mean((r) => r.f1),
    precision: mean((r) => r.precision),
    recall: mean((r) => r.recall),
    seconds: (performance.now() - t0) / 1000,
  };
}
