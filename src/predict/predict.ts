import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defineTaskTable, jobJournalPath, jobKey, runInProcess } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord, format, min, uniform } from "../core/coordinate.ts";
import { invalidArgument, notFound } from "../core/errors.ts";
import type { Roi } from "../core/roi.ts";
import type { Device } from "../engine/engine.ts";
import { newRunId, runKey, setAttrs } from "../preprocess/jobs.ts";
import { buildPyramid } from "../store/pyramid.ts";
import type { VolumeReader } from "../store/reader.ts";
import { Volume } from "../store/volume.ts";
import { levelAt, listVoxelSizes, openIfExists, openMask, roiInside } from "./arrays.ts";
import { type PredictBlockValue, type PredictModelRun, predictBlockFn } from "./block.ts";
import {
  defaultEngineKind,
  type EngineKind,
  type ModelEngine,
  openOnnxModel,
  openTorchModel,
  torchLabel,
} from "./engines.ts";
import { type ModelRef, modelAttrs, resolveModel } from "./model-ref.ts";
import { predictedRegions } from "./outputs.ts";
import { checkThreshold, thresholdLevel } from "./threshold-level.ts";
import { chooseTiling, describeTiling, largestInputWithin, type TilingPlan } from "./tiling.ts";

/*
 * `organelle predict MODEL... DATASET`: block-wise inference over the dataset or a ROI (see block.ts for
 * one block, tiling.ts for how blocks and tiles are chosen). Outputs per model:
 *   predictions/<model>/<organelle>/prob   uint8 round(p * 255), mean pyramid
 *   predictions/<model>/<organelle>/seg    uint8 0/1 at the threshold (threshold-level.ts), mode pyramid
 * on the grid of the raw level at the model's training voxel size, covering that level's extent; only
 * the requested region inside the cell mask is predicted (the rest is 0). A later ROI of the same model
 * is predicted into the same arrays; `organelle.prediction.predicted` lists what was.
 *
 * Resumable: the outputs carry the run's key and id while written (readers refuse them), finished blocks
 * are journaled in <dataset>/.organelle/jobs; the same command after a kill skips them and ends with the
 * bytes of an uninterrupted run. The block-wise run is in this thread (several blocks in flight), the
 * engines compute elsewhere (ORT's thread, or the torch subprocess).
 */

export const PROB = "prob";
export const SEG = "seg";
export const DEFAULT_CHUNK = 64;

export function predictionGroup(modelName: string, organelle: string): string {
  return `predictions/${modelName}/${organelle}`;
}

export interface PredictOptions {
  /** Default: onnx, or torch on a machine with an NVIDIA GPU. */
  readonly engine?: EngineKind;
  readonly device?: Device;
  readonly threads?: number;
  readonly python?: string;
  /** World ROI (nm) to predict; default: the whole volume. */
  readonly roi?: Roi;
  /** Restrict to the cell mask (default true). */
  readonly mask?: boolean;
  readonly maskArray?: string;
  readonly threshold?: number;
  /** Predict at s0 although the model was trained at another voxel size. */
  readonly force?: boolean;
  /** Replace existing predictions (of another model, or left by an interrupted run with other options). */
  readonly overwrite?: boolean;
  /** Output name instead of the model's (one model only). */
  readonly name?: string;
  /** Write-block edge (voxels), rounded up to whole chunks; default: chosen for speed. */
  readonly block?: number;
  /** Largest tile input edge (voxels); default: from the tile memory. */
  readonly maxTile?: number;
  /** Memory for one tile's activations (MB); default: CPU 1/8 of RAM up to 2 GiB, CUDA 8 GiB. */
  readonly tileMemoryMb?: number;
  /** Chunk edge of new output arrays (default 64). */
  readonly chunk?: number;
  /** Build the pyramids (default: when predicting the whole volume). */
  readonly pyramid?: boolean;
  /** Blocks in flight (default 2 for onnx, 3 for torch). */
  readonly concurrency?: number;
  /** Progress bar on stderr (default); false for none. */
  readonly progress?: boolean;
  /** Messages the caller should show (warnings, what was chosen). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface PredictOutput {
  readonly model: ModelRef;
  readonly group: string;
  readonly prob: string;
  readonly seg: string;
  readonly tile: { readonly input: Coordinate; readonly output: Coordinate };
}

export interface PredictResult {
  readonly dataset: string;
  readonly outputs: readonly PredictOutput[];
  readonly engine: string;
  readonly region: Roi;
  readonly voxelSize: Coordinate;
  readonly plan: TilingPlan;
  readonly blocks: number;
  /** Blocks a killed run had finished (skipped now). */
  readonly resumedBlocks: number;
  /** Blocks without a voxel of the cell mask. */
  readonly outsideBlocks: number;
  readonly tiles: number;
  /** Voxels of the region predicted, and per second of this run. */
  readonly voxels: number;
  readonly voxelsPerSecond: number;
  readonly seconds: number;
  /** Nothing to do: the region was predicted before by the same model. */
  readonly upToDate: boolean;
}

interface Prepared {
  readonly model: ModelRef;
  readonly group: string;
  prob: Volume;
  seg: Volume;
  /** What the prob array records as predicted (before this run). */
  readonly predicted: PredictedList;
}

type PredictedList = "all" | readonly Roi[];

/** Predicts every model over the dataset (or `roi`), reading each block of raw once. */
export async function predict(
  dataset: string,
  modelRefs: readonly (string | ModelRef)[],
  o: PredictOptions = {},
): Promise<PredictResult> {
  const started = performance.now();
  const log = o.log ?? (() => {});
  const ds = path.resolve(dataset);
  if (!fs.existsSync(ds)) throw notFound(`${dataset}: no such dataset`);
  if (modelRefs.length === 0) throw invalidArgument("give at least one model");
  const models: ModelRef[] = [];
  for (const r of modelRefs) models.push(typeof r === "string" ? await resolveModel(r) : r);
  if (o.name !== undefined && models.length > 1) throw invalidArgument("--name applies to one model only");
  const threshold = checkThreshold(o.threshold ?? 0.5);
  // torch on a GPU machine, unless a model has only an ONNX graph
  const kind =
    o.engine ?? (defaultEngineKind() === "torch" && models.every((m) => m.checkpoint) ? "torch" : "onnx");
  checkCompatible(models);

  // The raw level at the models' voxel size.
  const vs = models[0]!.voxelSize;
  const { reader: atSize, levels } = await levelAt(ds, "raw", vs);
  let raw: VolumeReader;
  if (atSize) raw = atSize;
  else {
    const msg = `model ${models[0]!.ref} was trained at ${format(vs)} nm but ${path.join(dataset, "raw")} has ${listVoxelSizes(levels)}`;
    if (!o.force) {
      throw invalidArgument(
        `${msg}; add a level at ${format(vs)} nm (organelle pyramid) or pass --force to predict at s0 anyway`,
      );
    }
    log(`warning: ${msg}; predicting at s0 because of --force (expect worse results)`);
    raw = (await levelAt(ds, "raw", levels[0]!)).reader!;
  }
  const grid = { voxelSize: raw.meta.voxelSize, offset: raw.meta.offset };
  const region = o.roi ? roiInside(o.roi, raw.roi, grid, path.join(dataset, "raw")) : raw.roi;
  if (o.roi && !raw.roi.contains(o.roi))
    log(`note: --roi ${o.roi} reaches past the volume; predicting ${region}`);
  const mask = o.mask === false ? null : await openMask(ds, o.maskArray ?? "masks/cell", grid);

  // Outputs: new, resumed, or an earlier prediction of the same model extended by this region.
  const names = models.map((m, i) => (i === 0 && o.name ? o.name : m.name));
  const existing = await Promise.all(
    models.map(async (m, i) => {
      const group = predictionGroup(names[i]!, m.organelle);
      return {
        group,
        prob: await openIfExists(ds, `${group}/${PROB}`),
        seg: await openIfExists(ds, `${group}/${SEG}`),
      };
    }),
  );
  const chunkEdge = o.chunk ?? DEFAULT_CHUNK;
  const chunk = existing[0]?.prob?.meta.chunks ?? min(uniform(chunkEdge), raw.meta.shape);

  // Levels are (re)built for a whole volume, and kept up to date where a prediction already has them.
  const pyramid =
    o.pyramid ?? (region.equals(raw.roi) || existing.some((e) => (e.prob?.levels.length ?? 1) > 1));
  const upToDate = existing.every(
    (e, i) =>
      e.prob?.attrs.complete !== false &&
      e.seg?.attrs.complete !== false &&
      e.prob !== undefined &&
      e.seg !== undefined &&
      sameModel(e.prob, models[i]!) &&
      e.seg.attrs.prediction !== undefined &&
      (e.seg.attrs.prediction as { threshold?: number }).threshold === threshold &&
      covers(predictedRegions(e.prob), region),
  );
  const maxBlock = uniform(kind === "torch" ? 256 : 128);
  const tilingOf = (maxInput: (m: ModelRef) => Coordinate) =>
    chooseTiling(
      models.map((m) => ({
        spec: m.spec,
        maxInput: maxInput(m),
        ...(kind === "onnx" && m.onnx && !m.checkpoint ? { fixedInput: m.onnx.inputShape } : {}),
      })),
      {
        chunk,
        maxBlock,
        extent: region.toVoxels(grid.voxelSize, grid.offset).shape,
        ...(o.block ? { block: uniform(o.block) } : {}),
      },
    );
  if (upToDate && !o.overwrite) {
    const plan = tilingOf((m) => largestInputWithin(m.spec, tileBytes(o, kind, undefined)));
    return {
      dataset: ds,
      outputs: models.map((m, i) => output(m, existing[i]!.group, plan, i)),
      engine: kind,
      region,
      voxelSize: grid.voxelSize,
      plan,
      blocks: 0,
      resumedBlocks: 0,
      outsideBlocks: 0,
      tiles: 0,
      voxels: 0,
      voxelsPerSecond: 0,
      seconds: (performance.now() - started) / 1000,
      upToDate: true,
    };
  }

  // The run's identity: what decides the bytes written (the tiling follows from it on one machine).
  const key = runKey({
    verb: "predict",
    models: models.map((m, i) => ({ name: names[i], digest: m.digest, organelle: m.organelle })),
    level: grid,
    region: region.toJSON(),
    mask: mask ? (o.maskArray ?? "masks/cell") : null,
    threshold,
    kind,
    block: o.block ?? null,
    maxTile: o.maxTile ?? null,
    tileMemoryMb: o.tileMemoryMb ?? null,
    chunk,
  });
  const outputPlan = planOutputs(ds, models, existing, raw, chunk, key, o.overwrite ?? false);

  // Engines, then the tiling (torch: the device's memory bounds the tiles; onnx: exports per tile shape).
  const engines: ModelEngine[] = [];
  try {
    let plan: TilingPlan;
    if (kind === "torch") {
      let gpuBytes: number | undefined;
      for (const m of models) {
        const { engine, info } = await openTorchModel(m, { kind, ...settings(o) });
        engines.push({ engine, label: torchLabel(info), exported: false });
        if (info.device === "cuda") gpuBytes = info.cudaDevices[0]?.memoryBytes;
      }
      plan = tilingOf((m) => maxTileInput(m, o, tileBytes(o, kind, gpuBytes)));
    } else {
      plan = tilingOf((m) => maxTileInput(m, o, tileBytes(o, kind, undefined)));
      for (const [i, m] of models.entries()) {
        const input = plan.models[i]!.network.input;
        const opened = await openOnnxModel(m, input, { kind, ...settings(o) });
        if (opened.exported)
          log(`${m.name}: exported its ONNX graph at ${format(input)} voxels (cached beside the checkpoint)`);
        engines.push(opened);
      }
    }
    log(`${models.map((m) => m.name).join(", ")}: ${describeTiling(plan)}; engine ${engines[0]!.label}`);

    const outputs = await applyOutputs(ds, models, names, existing, outputPlan, raw, chunk, key, threshold);
    const runId = outputPlan.runId;

    const runs: PredictModelRun[] = outputs.map((p, i) => ({
      model: p.model,
      engine: engines[i]!.engine,
      tiling: plan.models[i]!,
      prob: p.prob,
      seg: p.seg,
      level: thresholdLevel(threshold),
    }));
    const vsz = grid.voxelSize;
    const blockShape = coord(plan.block[0] * vsz[0], plan.block[1] * vsz[1], plan.block[2] * vsz[2]);
    // Blocks on the output's chunk grid: the region grown to whole chunks (inside the array).
    const chunkNm = coord(chunk[0] * vsz[0], chunk[1] * vsz[1], chunk[2] * vsz[2]);
    const total = region.snapToGrid(chunkNm, "grow", grid.offset).intersect(raw.roi);
    const spec: BlockwiseTaskSpec = {
      name: `predict ${names.join(", ")}`,
      totalWriteRoi: total,
      blockShape,
      context: uniform(0),
      voxelSize: vsz,
    };
    const call: TaskCall<unknown> = { fn: "predict.block", params: { dataset: ds, key } };
    const journal = jobJournalPath(ds, `${jobKey(spec, call)}-${runId}`);
    const table = defineTaskTable({ "predict.block": predictBlockFn({ raw, mask, region, runs }) });
    const summary = await runInProcess(spec, call, {
      table,
      journal,
      concurrency: o.concurrency ?? (kind === "torch" ? 3 : 2),
      ...(o.progress === false ? { progress: false as const } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    let tiles = 0;
    let outside = 0;
    for (const v of summary.values.values()) {
      const b = v as PredictBlockValue | undefined;
      tiles += b?.tiles ?? 0;
      outside += b?.outside ?? 0;
    }

    for (const p of outputs) {
      const predicted = addRegion(p.predicted, region, raw.roi);
      if (pyramid) {
        for (const [array, method] of [
          [`${p.group}/${PROB}`, "mean"],
          [`${p.group}/${SEG}`, "mode"],
        ] as const) {
          await buildPyramid(ds, array, {
            method,
            allowIncomplete: true,
            complete: false,
            overwrite: true,
            runner:
              raw.meta.shape[0] * raw.meta.shape[1] * raw.meta.shape[2] > 2 ** 26 ? "workers" : "in-process",
            progress: false,
            ...(o.signal ? { signal: o.signal } : {}),
          });
        }
      }
      const attrs = (v: Volume) => v.attrs.prediction as Record<string, unknown>;
      await setAttrs(ds, `${p.group}/${PROB}`, {
        prediction: { ...attrs(p.prob), predicted: predictedJson(predicted), engine: engines[0]!.label },
        run: undefined,
        runId: undefined,
        complete: true,
      });
      await setAttrs(ds, `${p.group}/${SEG}`, {
        prediction: { ...attrs(p.seg), predicted: predictedJson(predicted) },
        run: undefined,
        runId: undefined,
        complete: true,
      });
    }
    await fs.promises.rm(journal, { force: true });
    const seconds = (performance.now() - started) / 1000;
    const voxels = Math.round(region.size / (vsz[0] * vsz[1] * vsz[2]));
    const ran = summary.processed;
    return {
      dataset: ds,
      outputs: outputs.map((p, i) => output(p.model, p.group, plan, i)),
      engine: engines[0]!.label,
      region,
      voxelSize: vsz,
      plan,
      blocks: summary.blocks,
      resumedBlocks: summary.skipped,
      outsideBlocks: outside,
      tiles,
      voxels,
      voxelsPerSecond: summary.blocks > 0 ? (voxels * (ran / summary.blocks)) / summary.seconds : 0,
      seconds,
      upToDate: false,
    };
  } finally {
    for (const e of engines) await e.engine.close().catch(() => {});
  }
}

function settings(o: PredictOptions) {
  return {
    ...(o.device ? { device: o.device } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.python ? { python: o.python } : {}),
  };
}

function output(model: ModelRef, group: string, plan: TilingPlan, i: number): PredictOutput {
  const t = plan.models[i]!.network;
  return {
    model,
    group,
    prob: `${group}/${PROB}`,
    seg: `${group}/${SEG}`,
    tile: { input: t.input, output: t.output },
  };
}

/** Models predicted in one pass share the voxel size and the input normalisation. */
function checkCompatible(models: readonly ModelRef[]): void {
  const a = models[0]!;
  for (const m of models.slice(1)) {
    if (format(m.voxelSize) !== format(a.voxelSize)) {
      throw invalidArgument(
        `models ${a.ref} (${format(a.voxelSize)} nm) and ${m.ref} (${format(m.voxelSize)} nm) were trained at different voxel sizes; predict them in separate runs`,
      );
    }
    const n = (x: ModelRef) => JSON.stringify(x.normalization);
    if (n(m) !== n(a)) {
      throw invalidArgument(
        `models ${a.ref} and ${m.ref} normalise raw differently; predict them in separate runs`,
      );
    }
  }
  const groups = new Set(models.map((m) => `${m.name}/${m.organelle}`));
  if (groups.size !== models.length) throw invalidArgument("the same model is named twice");
}

/** Memory for one tile's activations. */
function tileBytes(o: PredictOptions, kind: EngineKind, gpuBytes: number | undefined): number {
  if (o.tileMemoryMb !== undefined) {
    if (!(o.tileMemoryMb > 0)) throw invalidArgument(`--tile-memory ${o.tileMemoryMb}: expected MB > 0`);
    return o.tileMemoryMb * 2 ** 20;
  }
  // bf16 activations on CUDA take half of what the float32 estimate says.
  if (kind === "torch" && gpuBytes) return Math.min(16 * 2 ** 30, gpuBytes * 0.25) * 2;
  return Math.min(2 * 2 ** 30, os.totalmem() / 8);
}

function maxTileInput(m: ModelRef, o: PredictOptions, bytes: number): Coordinate {
  const byMemory = largestInputWithin(m.spec, bytes);
  if (o.maxTile === undefined) return byMemory;
  return min(byMemory, uniform(o.maxTile));
}

function sameModel(v: Volume, m: ModelRef): boolean {
  const p = v.attrs.prediction as { model?: { digest?: string } } | undefined;
  return p?.model?.digest === m.digest;
}

function covers(list: PredictedList, roi: Roi): boolean {
  return list === "all" || list.some((r) => r.contains(roi));
}

function addRegion(list: PredictedList, region: Roi, whole: Roi): PredictedList {
  if (list === "all" || region.contains(whole)) return "all";
  const kept = list.filter((r) => !region.contains(r));
  return kept.some((r) => r.contains(region)) ? kept : [...kept, region];
}

function predictedJson(list: PredictedList): unknown {
  return list === "all" ? "all" : list.map((r) => r.toJSON());
}

interface OutputPlan {
  readonly runId: string;
  /** Per model: reopen its arrays (resume, or add a region to a complete prediction of the same model). */
  readonly reuse: readonly boolean[];
}

/**
 * Decides, before any engine starts, what happens to each model's prob and seg arrays: a run resumes
 * when every output carries this run's key and the same run id; complete outputs of the same model and
 * geometry are reopened to add the region; anything else that exists needs --overwrite.
 */
function planOutputs(
  ds: string,
  models: readonly ModelRef[],
  existing: readonly { group: string; prob: Volume | undefined; seg: Volume | undefined }[],
  raw: VolumeReader,
  chunk: Coordinate,
  key: string,
  overwrite: boolean,
): OutputPlan {
  const ids = existing
    .flatMap((e) => [e.prob, e.seg])
    .map((v) => (v && v.attrs.complete === false && v.attrs.run === key ? v.attrs.runId : undefined));
  const resume = !overwrite && ids.every((id) => typeof id === "string" && id === ids[0]);
  const geometryOk = (v: Volume | undefined) =>
    v !== undefined &&
    format(v.meta.shape) === format(raw.meta.shape) &&
    format(v.meta.voxelSize) === format(raw.meta.voxelSize) &&
    format(v.meta.offset) === format(raw.meta.offset) &&
    v.meta.dtype === "uint8" &&
    format(v.meta.chunks) === format(chunk);
  const reuse = models.map((m, i) => {
    const e = existing[i]!;
    if (resume) return true;
    if (overwrite || (!e.prob && !e.seg)) return false;
    const where = path.join(ds, e.group);
    if (e.prob?.attrs.complete === false || e.seg?.attrs.complete === false) {
      throw invalidArgument(
        `${where} was left by an interrupted prediction with other options; run that command again to finish it, or pass --overwrite`,
      );
    }
    if (!e.prob || !e.seg || !sameModel(e.prob, m) || !geometryOk(e.prob) || !geometryOk(e.seg)) {
      throw invalidArgument(
        `${where} already holds a prediction by another model or of another geometry; pass --overwrite to replace it, or --name to write beside it`,
      );
    }
    return true;
  });
  return { runId: resume ? (ids[0] as string) : newRunId(), reuse };
}

/** Creates or reopens (and marks incomplete) the prob and seg arrays of every model, as planned. */
async function applyOutputs(
  ds: string,
  models: readonly ModelRef[],
  names: readonly string[],
  existing: readonly { group: string; prob: Volume | undefined; seg: Volume | undefined }[],
  plan: OutputPlan,
  raw: VolumeReader,
  chunk: Coordinate,
  key: string,
  threshold: number,
): Promise<Prepared[]> {
  const runId = plan.runId;
  const outputs: Prepared[] = [];
  for (const [i, m] of models.entries()) {
    const e = existing[i]!;
    let predicted: PredictedList = [];
    if (plan.reuse[i]) {
      predicted = predictedRegions(e.prob!);
      await setAttrs(ds, `${e.group}/${PROB}`, { run: key, runId, complete: false });
      const segInfo = { ...((e.seg!.attrs.prediction as object) ?? {}), threshold };
      await setAttrs(ds, `${e.group}/${SEG}`, { run: key, runId, complete: false, prediction: segInfo });
    } else {
      const attrs = { model: modelAttrs(m), name: names[i] };
      const create = {
        shape: raw.meta.shape,
        dtype: "uint8" as const,
        voxelSize: raw.meta.voxelSize,
        offset: raw.meta.offset,
        chunks: chunk,
        overwrite: true,
      };
      await Volume.create(ds, `${e.group}/${PROB}`, {
        ...create,
        kind: "intensity",
        attrs: { run: key, runId, prediction: { ...attrs, predicted: [] } },
      });
      await Volume.create(ds, `${e.group}/${SEG}`, {
        ...create,
        kind: "mask",
        attrs: { run: key, runId, prediction: { ...attrs, threshold, predicted: [] } },
      });
    }
    const prob = await Volume.open(ds, `${e.group}/${PROB}`, { allowIncomplete: true });
    const seg = await Volume.open(ds, `${e.group}/${SEG}`, { allowIncomplete: true });
    outputs.push({ model: m, group: e.group, prob, seg, predicted });
  }
  return outputs;
}
