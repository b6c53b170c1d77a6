import * as path from "node:path";
import type { ProgressSink, WorkerPool } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { getPreset, voxelsForVolume } from "../gt/presets.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import {
  type ComponentStage,
  runComponentLabelling,
  runComponentStage,
  type StageReport,
} from "../preprocess/components.ts";
import type { DropIdsParams } from "../preprocess/components-task.ts";
import {
  arraySpec,
  cleanupJob,
  finishOutput,
  prepareOutput,
  runKey,
  runPhase,
  tmpArray,
  wholeNumber,
  withJob,
} from "../preprocess/jobs.ts";
import { runLocalOp } from "../preprocess/ops.ts";
import { Volume } from "../store/volume.ts";
import type { ThresholdParams } from "./refine-task.ts";
import {
  checkSplitParams,
  DEFAULT_MERGE_QUANTILE,
  DEFAULT_MERGE_THRESHOLD,
  DEFAULT_MIN_SEED_DISTANCE,
  type SeedSource,
  type SplitParams,
} from "./split.ts";
import { removeSplitDir, runSplitPhases, type SplitReport } from "./split-phases.ts";

/*
 * `organelle refine` (COSEM's refinement, SPEC §8): prediction -> Gaussian smoothing (sigma nm) ->
 * threshold -> masking by another class -> hole filling -> size filter (nm^3) -> connected components
 * (global ids, numbered as scipy.ndimage.label on the whole volume) -> keep/remove id lists ->
 * segmentations/<organelle> (uint32) with a mode pyramid. Every step runs block-wise through the
 * existing phases (src/preprocess: Gaussian with its context, the block-label + face-merge passes for
 * holes, small objects and components), each resumable; an interrupted run resumes with the same options.
 *
 * Label or mask inputs (kind label/mask) are binarised first (non-zero = 255), so ground truth can be
 * refined like a prediction. Holes are filled before the size filter (objects are judged with their
 * holes filled).
 *
 * `split` adds the watershed + agglomeration of over-merged objects after the id lists (split.ts,
 * split-phases.ts): objects that do not split keep their id, pieces 2..k of those that do get ids
 * after the largest.
 */

export interface RefineOptions {
  /** Prediction array (uint8 0..255, uint16, or float32 0..1), or a label/mask array. */
  input: string;
  /** Organelle name (preset: minimum size) and output name segmentations/<organelle>. */
  organelle: string;
  output?: string;
  /** Gaussian sigma in nm (default 12; 0 = none). */
  sigma?: number;
  /** Threshold as a probability 0..1 (default 0.5; uint8 0.5 -> v >= 128). */
  threshold?: number;
  /** Minimum object volume in nm^3 (default: the organelle preset's, else 0). */
  minVolume?: number;
  /** Fill enclosed holes (default true). */
  fillHoles?: boolean;
  maskBy?: string;
  maskMode?: "inside" | "outside";
  keep?: readonly number[];
  remove?: readonly number[];
  connectivity?: Connectivity;
  /** Split over-merged objects (watershed + agglomeration; default false). */
  split?: boolean;
  /** Seeds from the distance transform (default) or the smoothed prediction. */
  seeds?: SeedSource;
  /** nm between seeds (default: the preset's smallest diameter, else 100). */
  minSeedDistance?: number;
  /** Lowest seed value: nm (distance) or probability (prediction); default 0. */
  seedThreshold?: number;
  /** Quantile of the boundary values scoring adjacent fragments (default 0.5). */
  mergeQuantile?: number;
  /** Fragments merge above this score, a fraction of the smaller fragment peak (default 0.25 distance, 0.5 prediction). */
  mergeThreshold?: number;
  /** Objects per split task (default 4). */
  objectsPerBlock?: number;
  blockVoxels?: number;
  workers?: number;
  /** Reuse these worker threads. */
  pool?: WorkerPool;
  overwrite?: boolean;
  pyramid?: boolean;
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

export interface RefineResult {
  readonly output: string;
  readonly objects: number;
  readonly kept: number;
  readonly minVolume: number;
  readonly minVoxels: number;
  readonly stages: StageReport[];
  /** With `split`: objects split and ids added; total ids = kept + added. */
  readonly split?: SplitReport & { readonly params: SplitParams };
  readonly levels: number;
  readonly seconds: number;
}

export async function runRefine(datasetPath: string, opts: RefineOptions): Promise<RefineResult> {
  const started = performance.now();
  const ds = path.resolve(datasetPath);
  const src = await Volume.open(ds, opts.input);
  const preset = (() => {
    try {
      return getPreset(opts.organelle);
    } catch {
      return undefined;
    }
  })();
  const organelle = preset?.name ?? opts.organelle;
  if (!/^[A-Za-z0-9_-]+$/.test(organelle)) {
    throw invalidArgument(`--organelle '${opts.organelle}': expected a name of letters, digits, _ or -`);
  }
  const output = opts.output ?? `segmentations/${organelle}`;
  if (output === opts.input) throw invalidArgument(`--output ${output}: refine cannot replace its input`);
  const sigma = opts.sigma ?? 12;
  if (!(sigma >= 0 && Number.isFinite(sigma)))
    throw invalidArgument(`--sigma ${sigma}: expected a number of nm >= 0`);
  const threshold = opts.threshold ?? 0.5;
  if (!(threshold >= 0 && threshold < 1))
    throw invalidArgument(`--threshold ${threshold}: expected a probability in [0, 1)`);
  const minVolume = opts.minVolume ?? preset?.sizes.minVolumeNm3 ?? 0;
  if (!(minVolume >= 0 && Number.isFinite(minVolume)))
    throw invalidArgument(`--min-volume ${minVolume}: expected nm^3 >= 0`);
  const minVoxels = minVolume > 0 ? voxelsForVolume(minVolume, src.meta.voxelSize) : 0;
  const connectivity = opts.connectivity ?? 6;
  const edge = wholeNumber(opts.blockVoxels ?? 256, "--block", 1);
  if (opts.keep?.length && opts.remove?.length)
    throw invalidArgument("--keep and --remove: pass one of them");
  const dtype = src.meta.dtype;
  const binaryInput = src.meta.kind === "label" || src.meta.kind === "mask";
  const seeds = opts.seeds ?? "distance";
  const diameter = preset?.sizes.diameterNm;
  const presetDistance =
    diameter?.min ??
    diameter?.median ??
    (preset?.sizes.radiusNm ? 2 * preset.sizes.radiusNm.outer : undefined);
  const split: SplitParams | undefined = opts.split
    ? {
        seeds,
        minSeedDistance: opts.minSeedDistance ?? presetDistance ?? DEFAULT_MIN_SEED_DISTANCE,
        seedThreshold: opts.seedThreshold ?? 0,
        mergeQuantile: opts.mergeQuantile ?? DEFAULT_MERGE_QUANTILE,
        mergeThreshold: opts.mergeThreshold ?? DEFAULT_MERGE_THRESHOLD[seeds],
      }
    : undefined;
  if (split) checkSplitParams(split);
  if (split?.seeds === "prediction" && binaryInput) {
    throw invalidArgument(
      `--seeds prediction: ${src.describe()} is a ${src.meta.kind} array, not a prediction; use --seeds distance`,
    );
  }
  const perBlock = wholeNumber(opts.objectsPerBlock ?? 4, "objects per block", 1);
  if (
    dtype === "uint64" ||
    (dtype !== "uint8" && dtype !== "uint16" && dtype !== "float32" && !binaryInput)
  ) {
    throw invalidArgument(
      `${src.describe()} is ${dtype}; refine reads uint8/uint16/float32 predictions or label arrays`,
    );
  }
  if (opts.maskBy) {
    const m = await Volume.open(ds, opts.maskBy);
    if (!m.meta.voxelSize.every((v, d) => v === src.meta.voxelSize[d])) {
      throw invalidArgument(
        `--mask-by ${opts.maskBy}: voxel size ${m.meta.voxelSize.join(",")} nm differs from ${src.describe()}'s ${src.meta.voxelSize.join(",")}; pick the scale level with the same voxel size`,
      );
    }
  }
  const key = runKey({
    v: 1,
    verb: "refine",
    input: opts.input,
    output,
    sigma,
    threshold,
    minVoxels,
    fill: opts.fillHoles !== false,
    maskBy: opts.maskBy ?? null,
    maskMode: opts.maskMode ?? "inside",
    keep: opts.keep ?? [],
    remove: opts.remove ?? [],
    connectivity,
    edge,
    ...(split ? { split } : {}),
  });
  const geometry = {
    shape: src.meta.shape,
    voxelSize: src.meta.voxelSize,
    offset: src.meta.offset,
    chunks: src.meta.chunks,
    compressor: "zstd" as const,
    level: 1,
    format: src.meta.format,
  };
  const { runId } = await prepareOutput(
    ds,
    output,
    {
      ...geometry,
      dtype: "uint32",
      kind: "label",
      attrs: {
        refine: {
          source: opts.input,
          sigma,
          threshold,
          minVolume,
          minVoxels,
          fillHoles: opts.fillHoles !== false,
          maskBy: opts.maskBy,
          maskMode: opts.maskMode,
          connectivity,
          ...(split ? { split } : {}),
        },
      },
    },
    key,
    { overwrite: opts.overwrite },
  );
  const levels = opts.pyramid === false ? 1 : src.levels.length;
  return withJob(ds, key, runId, opts, async (job) => {
    const phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] = [];
    const ref = (t: { datasetPath: string; arrayPath: string }): ArrayRef => ({
      datasetPath: t.datasetPath,
      arrayPath: t.arrayPath,
    });
    // Later phases open their inputs as finished arrays: an intermediate is marked complete once written.
    const done = async (t: ArrayRef) => {
      const v = await Volume.open(t.datasetPath, t.arrayPath, { allowIncomplete: true });
      await v.markComplete();
    };
    let current: ArrayRef = { datasetPath: ds, arrayPath: opts.input };
    let scale = dtype === "uint8" ? 255 : dtype === "uint16" ? 65535 : 1;
    if (binaryInput) {
      const bin = ref(await tmpArray(job, "binary", { ...geometry, dtype: "uint8" }));
      await threshold_(bin, 0, 255, false);
      await done(bin);
      current = bin;
      scale = 255;
    }
    if (sigma > 0) {
      const outType = binaryInput || dtype === "uint8" ? "uint8" : dtype === "uint16" ? "uint16" : "float32";
      const smooth = ref(await tmpArray(job, "smooth", { ...geometry, dtype: outType }));
      const curVol = await Volume.open(current.datasetPath, current.arrayPath, { allowIncomplete: true });
      const r = await runLocalOp(
        job,
        { op: "gaussian", sigma: coord(sigma, sigma, sigma) },
        curVol,
        current,
        smooth,
        coord(edge, edge, edge),
      );
      phases.push(r);
      await done(smooth);
      current = smooth;
    }
    // Prediction seeds read the smoothed prediction (or the input itself without smoothing).
    const prediction = { ref: current, scale };
    const fg = ref(await tmpArray(job, "foreground", { ...geometry, dtype: "uint8" }));
    await threshold_(fg, threshold * scale, 1, true);
    await done(fg);
    current = fg;
    const stages: ComponentStage[] = [];
    if (opts.fillHoles !== false) {
      stages.push({
        op: "fillHoles",
        smallerThan: Number.POSITIVE_INFINITY,
        includeBorder: false,
        connectivity,
        instances: false,
      });
    }
    if (minVoxels > 0) stages.push({ op: "removeSmall", minSize: minVoxels, connectivity, instances: false });
    const reports: StageReport[] = [];
    for (let i = 0; i < stages.length; i++) {
      const next = ref(await tmpArray(job, `stage${i}`, { ...geometry, dtype: "uint8" }));
      const r = await runComponentStage(job, stages[i]!, src, current, next, edge, `stage${i}`);
      reports.push(r.report);
      phases.push(...r.phases);
      await done(next);
      current = next;
    }
    const out: ArrayRef = { datasetPath: ds, arrayPath: output };
    const labelled = await runComponentLabelling(job, src, current, out, connectivity, edge, "label");
    phases.push(...labelled.phases);
    const drop = dropList(labelled.count, opts.keep, opts.remove);
    if (drop.length > 0) {
      const spec = arraySpec(`refine: drop ids of ${output}`, src, edge);
      const call: TaskCall<DropIdsParams> = {
        fn: "components.dropIds",
        params: { input: out, output: out, drop, run: `${job.key}/drop` },
      };
      await runPhase(job, spec, call);
      phases.push({ spec, call });
    }
    let splitReport: SplitReport | undefined;
    if (split) {
      const s = await runSplitPhases(
        job,
        src,
        out,
        split.seeds === "prediction" ? prediction : undefined,
        split,
        labelled.count,
        edge,
        perBlock,
      );
      splitReport = s.report;
      phases.push(...s.phases);
    }
    const built = await finishOutput(job, ds, output, levels);
    if (split) await removeSplitDir(job);
    await cleanupJob(job, phases);
    return {
      output: path.join(ds, output),
      objects: labelled.count,
      kept: labelled.count - drop.length,
      minVolume,
      minVoxels,
      stages: reports,
      ...(split && splitReport ? { split: { ...splitReport, params: split } } : {}),
      levels: built,
      seconds: (performance.now() - started) / 1000,
    };

    async function threshold_(target: ArrayRef, t: number, on: number, withMask: boolean) {
      const params: ThresholdParams = {
        input: current,
        output: target,
        threshold: t,
        on,
        ...(withMask && opts.maskBy
          ? { mask: { datasetPath: ds, arrayPath: opts.maskBy }, maskMode: opts.maskMode ?? "inside" }
          : {}),
      };
      const spec = arraySpec(`refine: threshold ${current.arrayPath}`, src, edge);
      const call: TaskCall<ThresholdParams> = { fn: "analyze.threshold", params };
      await runPhase(job, spec, call);
      phases.push({ spec, call });
    }
  });
}

/** Ids to drop (ascending) given the id count and a keep or remove list. */
export function dropList(count: number, keep?: readonly number[], remove?: readonly number[]): Uint32Array {
  for (const id of [...(keep ?? []), ...(remove ?? [])]) {
    if (!(Number.isInteger(id) && id >= 1 && id <= count)) {
      throw invalidArgument(`id ${id} in --keep/--remove: refine found ids 1..${count}`);
    }
  }
  if (keep && keep.length > 0) {
    const k = new Set(keep);
    const out: number[] = [];
    for (let id = 1; id <= count; id++) if (!k.has(id)) out.push(id);
    return Uint32Array.from(out);
  }
  return Uint32Array.from([...new Set(remove ?? [])].sort((a, b) => a - b));
}
