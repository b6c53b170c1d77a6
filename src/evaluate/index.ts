/** Voxel-wise evaluation of predictions (see docs/predict.md). */
export { compare } from "./compare.ts";
export { type EvaluateOptions, type Evaluation, evaluate, type RoiEvaluation } from "./evaluate.ts";
export {
  bestPoint,
  DEFAULT_SWEEP,
  type Metrics,
  metricsAt,
  type SweepPoint,
  sweep,
  thresholdRange,
} from "./metrics.ts";
export {
  evaluationJson,
  evaluationPlot,
  evaluationsCsv,
  formatComparison,
  formatEvaluation,
} from "./report.ts";
