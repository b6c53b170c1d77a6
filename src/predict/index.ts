/**
 * Block-wise inference (see docs/predict.md): model references, engines, tiling, `predict`, re-thresholding
 * and fusion of predictions.
 */
export { activationBytes, forwardFlops } from "./cost.ts";
export { defaultEngineKind, ENGINE_KINDS, type EngineKind } from "./engines.ts";
export { type FusedId, type FuseOptions, type FuseResult, fuse } from "./fuse.ts";
export {
  type ModelRef,
  type Normalization,
  onnxFor,
  openOnnxEngine,
  resolveModel,
  TRAINING_NORMALIZATION,
} from "./model-ref.ts";
export { listPredictions, type OpenedPrediction, openPrediction, predictedRegions } from "./outputs.ts";
export {
  DEFAULT_CHUNK,
  type PredictOptions,
  type PredictOutput,
  type PredictResult,
  predict,
  predictionGroup,
} from "./predict.ts";
export { type RethresholdOptions, type RethresholdResult, rethreshold } from "./rethreshold.ts";
export { checkThreshold, thresholdLevel } from "./threshold-level.ts";
export { chooseTiling, largestInputWithin, type ModelTiling, type TilingPlan } from "./tiling.ts";
