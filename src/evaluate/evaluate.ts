import * as path from "node:path";
import { runInProcess, runInWorkers } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { invalidArgument, notFound } from "../core/errors.ts";
import type { Roi } from "../core/roi.ts";
import { readRois } from "../gt/rois.ts";
import { arrayExists, openOnGrid } from "../predict/arrays.ts";
import { resolveModel } from "../predict/model-ref.ts";
import { openPrediction, predictedRegions } from "../predict/outputs.ts";
import { type PredictOptions, predict, predictionGroup } from "../predict/predict.ts";
import { checkThreshold } from "../predict/threshold-level.ts";
import type { VolumeReader } from "../store/reader.ts";
import { Volume } from "../store/volume.ts";
import { TASK_TABLE } from "../tasks/table.ts";
import type { ArrayRef, HistogramParams, Histograms } from "./histogram-task.ts";
import {
  addHistograms,
  bestPoint,
  counted,
  DEFAULT_SWEEP,
  emptyHistograms,
  type Metrics,
  metricsAt,
  type SweepPoint,
  sweep,
} from "./metrics.ts";

/*
 * `organelle evaluate DATASET --pred predictions/<model>/<organelle>` (or `--model MODEL`, which
 * predicts the ROIs first): voxel-wise precision, recall, F1 and IoU of the probability map against
 * labels/<organelle>, per ROI (the label array's validation ROIs unless ROIs are given) and overall
 * (counts pooled over the ROIs), counting only voxels inside the cell mask (masks/cell, when the dataset
 * has one) and outside the exclusion zone (labels/<organelle>_exclusion, when present); plus a threshold
 * sweep and the threshold with the best overall F1. Block-wise: each block adds its histograms of
 * stored probabilities for organelle and background voxels (histogram-task.ts).
 */

export interface EvaluateOptions {
  /** A prediction: predictions/<model>/<organelle> (or <model>/<organelle>). */
  readonly pred?: string;
  /** Or a model reference: its predictions of the ROIs are made first (see PredictOptions). */
  readonly model?: string;
  readonly predictOptions?: PredictOptions;
  /** Ground truth array (default labels/<organelle>). */
  readonly labels?: string;
  /** ROIs (nm) to evaluate; "all" for the labels' extent; default: the labels' validation ROIs. */
  readonly rois?: readonly Roi[] | "all";
  /** Count only voxels inside the mask (default true, when the dataset has one). */
  readonly mask?: boolean;
  readonly maskArray?: string;
  /** Leave out the exclusion zone (default true, when the dataset has one). */
  readonly exclusion?: boolean;
  /** The threshold of the per-ROI table (default: the segmentation's threshold, else 0.5). */
  readonly threshold?: number;
  readonly sweep?: readonly number[];
  readonly workers?: number;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface RoiEvaluation extends Metrics {
  readonly name: string;
  readonly roi: Roi;
  /** Voxels that count. */
  readonly voxels: number;
}

export interface Evaluation {
  readonly dataset: string;
  readonly prediction: string;
  readonly organelle: string;
  readonly labels: string;
  readonly mask: string | null;
  readonly exclusion: string | null;
  readonly threshold: number;
  readonly rois: readonly RoiEvaluation[];
  /** Counts pooled over the ROIs. */
  readonly overall: Metrics & { readonly voxels: number };
  /** Mean of the ROIs' F1 (each ROI weighs the same). */
  readonly meanF1: number;
  readonly sweep: readonly SweepPoint[];
  readonly best: SweepPoint;
  readonly seconds: number;
}

export interface ResolvedRoi {
  readonly name: string;
  readonly roi: Roi;
}

/** Evaluates one prediction (or a model, predicting the ROIs first). */
export async function evaluate(dataset: string, o: EvaluateOptions): Promise<Evaluation> {
  const started = performance.now();
  const ds = path.resolve(dataset);
  if ((o.pred === undefined) === (o.model === undefined)) {
    throw invalidArgument(
      "give the prediction to evaluate with --pred predictions/<model>/<organelle>, or a model with --model",
    );
  }
  let pred = o.pred;
  if (o.model !== undefined) {
    const model = await resolveModel(o.model);
    const organelle = model.organelle;
    const labelsArray = o.labels ?? `labels/${organelle}`;
    const labels = await openLabelArray(ds, labelsArray);
    const rois = await resolveRois(ds, labels, labelsArray, o.rois);
    const name = o.predictOptions?.name ?? model.name;
    // The prediction is restricted to the mask the evaluation counts in (none when the dataset has none).
    const maskArray = o.maskArray ?? "masks/cell";
    const mask = o.mask !== false && arrayExists(ds, maskArray);
    for (const r of rois) {
      o.log?.(`predicting ROI '${r.name}' ${r.roi}`);
      await predict(ds, [model], {
        pyramid: false,
        ...o.predictOptions,
        mask,
        maskArray,
        roi: r.roi,
        ...(o.log ? { log: o.log } : {}),
      });
    }
    pred = predictionGroup(name, organelle);
  }
  const p = await openPrediction(ds, pred!);
  const grid = { voxelSize: p.prob.meta.voxelSize, offset: p.prob.meta.offset };
  const labelsArray = o.labels ?? `labels/${p.organelle}`;
  const labelsVol = await openLabelArray(ds, labelsArray);
  const labels = await openOnGrid(ds, labelsArray, grid, "the ground truth");
  const rois = await resolveRois(ds, labelsVol, labelsArray, o.rois, labels.roi.intersect(p.prob.roi), grid);
  const predicted = predictedRegions(p.prob);
  for (const r of rois) {
    if (predicted !== "all" && !predicted.some((x) => x.contains(r.roi))) {
      throw invalidArgument(
        `ROI '${r.name}' ${r.roi} was not predicted in ${path.join(dataset, p.group)} (it holds ${predicted.map(String).join(", ") || "nothing"}); predict it with organelle predict MODEL ${dataset} --roi ${roiArg(r.roi)}, or evaluate with --model`,
      );
    }
  }
  const maskArray = o.maskArray ?? "masks/cell";
  const mask =
    o.mask === false || !arrayExists(ds, maskArray)
      ? null
      : await openOnGrid(ds, maskArray, grid, "the cell mask");
  if (o.mask !== false && o.maskArray && !mask)
    throw notFound(`${path.join(dataset, maskArray)}: no such mask`);
  const exclusionArray = `${labelsArray}_exclusion`;
  const exclusion =
    o.exclusion === false || !arrayExists(ds, exclusionArray)
      ? null
      : await openOnGrid(ds, exclusionArray, grid, "the exclusion zone");
  const seg = await Volume.open(ds, `${p.group}/seg`).catch(() => undefined);
  const segThreshold = (seg?.attrs.prediction as { threshold?: unknown } | undefined)?.threshold;
  const threshold = checkThreshold(o.threshold ?? (typeof segThreshold === "number" ? segThreshold : 0.5));
  const thresholds = o.sweep ?? DEFAULT_SWEEP;
  for (const t of thresholds) checkThreshold(t, "sweep threshold");

  const ref = (array: string, r: VolumeReader): ArrayRef => ({ array, scale: r.scale });
  const params: HistogramParams = {
    dataset: ds,
    prob: { array: `${p.group}/prob`, scale: 0 },
    labels: ref(labelsArray, labels),
    mask: mask ? ref(maskArray, mask) : null,
    exclusion: exclusion ? ref(exclusionArray, exclusion) : null,
  };
  const total = emptyHistograms();
  const perRoi: RoiEvaluation[] = [];
  const vs = grid.voxelSize;
  const totalVoxels = rois.reduce((n, r) => n + r.roi.size / (vs[0] * vs[1] * vs[2]), 0);
  const useWorkers = totalVoxels > 32 * 2 ** 20;
  for (const r of rois) {
    const c = p.prob.meta.chunks;
    const edge = (d: number) => c[d]! * Math.max(1, Math.floor(128 / c[d]!)) * vs[d]!;
    const spec: BlockwiseTaskSpec = {
      name: `evaluate ${p.group} ${r.name}`,
      totalWriteRoi: r.roi,
      blockShape: coord(edge(0), edge(1), edge(2)),
      context: uniform(0),
      voxelSize: vs,
    };
    const call: TaskCall<HistogramParams> = { fn: "evaluate.histogram", params };
    const run = {
      ...(o.progress === false ? { progress: false as const } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    };
    const summary = useWorkers
      ? await runInWorkers(spec, call, { ...run, ...(o.workers ? { workers: o.workers } : {}) })
      : await runInProcess(spec, call, { ...run, table: TASK_TABLE, concurrency: 2 });
    const h = emptyHistograms();
    for (const v of summary.values.values()) addHistograms(h, v as Histograms);
    addHistograms(total, h);
    perRoi.push({ name: r.name, roi: r.roi, voxels: counted(h), ...metricsAt(h, threshold) });
  }
  const points = sweep(total, thresholds);
  const f1s = perRoi.map((r) => r.f1);
  return {
    dataset: ds,
    prediction: p.group,
    organelle: p.organelle,
    labels: labelsArray,
    mask: mask ? maskArray : null,
    exclusion: exclusion ? exclusionArray : null,
    threshold,
    rois: perRoi,
    overall: { voxels: counted(total), ...metricsAt(total, threshold) },
    meanF1: f1s.reduce((a, b) => a + b, 0) / f1s.length,
    sweep: points,
    best: bestPoint(points),
    seconds: (performance.now() - started) / 1000,
  };
}

function roiArg(r: Roi): string {
  return `${r.offset.join(",")}:${r.shape.join(",")}`;
}

export async function openLabelArray(ds: string, array: string): Promise<Volume> {
  if (!arrayExists(ds, array)) {
    throw notFound(
      `${path.join(ds, array)}: no ground truth; bring labels in with 'organelle gt import', or name them with --labels`,
    );
  }
  return Volume.open(ds, array);
}

/**
 * The ROIs to evaluate, on the prediction's grid (shrunk to whole voxels) and inside `frame` (where
 * both the labels and the prediction are).
 */
export async function resolveRois(
  ds: string,
  labels: Volume,
  labelsArray: string,
  given: readonly Roi[] | "all" | undefined,
  frame: Roi = labels.roi,
  grid: { voxelSize: readonly number[]; offset: readonly number[] } = {
    voxelSize: labels.meta.voxelSize,
    offset: labels.meta.offset,
  },
): Promise<ResolvedRoi[]> {
  const where = path.join(ds, labelsArray);
  let list: ResolvedRoi[];
  if (given === "all") list = [{ name: "all", roi: frame }];
  else if (given && given.length > 0)
    list = given.map((roi, i) => ({ name: given.length === 1 ? "roi" : `roi-${i + 1}`, roi }));
  else {
    list = readRois(labels.attrs, where)
      .filter((r) => r.role === "validation")
      .map((r) => ({ name: r.name, roi: r.roi }));
    if (list.length === 0) {
      throw invalidArgument(
        `${where} has no validation ROIs; give one with --roi z,y,x:dz,dy,dx (nm) or --roi all, or add one with 'organelle gt add-roi ${ds} ${path.basename(labelsArray)} --role validation --roi ...'`,
      );
    }
  }
  const vs = coord(grid.voxelSize[0]!, grid.voxelSize[1]!, grid.voxelSize[2]!);
  const off = coord(grid.offset[0]!, grid.offset[1]!, grid.offset[2]!);
  return list.map((r) => {
    const snapped = r.roi.snapToGrid(vs, "shrink", off).intersect(frame);
    if (snapped.empty) {
      throw invalidArgument(
        `ROI '${r.name}' ${r.roi} lies outside the labels and prediction (${frame}) or is thinner than a voxel`,
      );
    }
    return { name: r.name, roi: snapped };
  });
}
