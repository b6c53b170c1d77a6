import * as fs from "node:fs";
import * as path from "node:path";
import { jobJournalPath, jobKey, runInWorkers } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { coord, format, uniform } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { runKey } from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import { finishRunOutput, type OpenedPrediction, openPrediction, openRunOutput } from "./outputs.ts";
import type { FuseParams, FuseValue } from "./tasks.ts";
import { checkThreshold, thresholdLevel } from "./threshold-level.ts";

/*
 * `organelle fuse DATASET --preds A,B,C [--priority ...]`: independent per-organelle models may claim the
 * same voxel (SPEC §6). Fusion gives every voxel at most one organelle, in one label volume
 * (predictions/fused by default, uint8, uint16 beyond 255 inputs):
 *
 *   id 0      no organelle (no input's probability reaches its threshold)
 *   id i      the i-th prediction of --preds (1-based), listed in the array's `organelle.fusion.ids`
 *
 * A voxel claimed by several (probability >= each one's threshold: its seg threshold, or --threshold)
 * goes to the highest probability (ties: the earlier in --preds), or, with --priority, to the first of
 * the priority list among the claimants (inputs not listed rank after the listed ones, in --preds order).
 */

export interface FuseOptions {
  readonly preds: readonly string[];
  /** Organelle names or prediction names, highest priority first. */
  readonly priority?: readonly string[];
  /** One threshold for every input (default: each prediction's segmentation threshold, else 0.5). */
  readonly threshold?: number;
  readonly output?: string;
  readonly overwrite?: boolean;
  readonly workers?: number;
  readonly progress?: boolean;
  readonly signal?: AbortSignal;
}

export interface FusedId {
  readonly id: number;
  readonly organelle: string;
  readonly prediction: string;
  readonly threshold: number;
  readonly voxels: number;
}

export interface FuseResult {
  readonly output: string;
  readonly dtype: "uint8" | "uint16";
  readonly rule: "probability" | "priority";
  readonly ids: readonly FusedId[];
  readonly contested: number;
  readonly seconds: number;
}

export async function fuse(dataset: string, o: FuseOptions): Promise<FuseResult> {
  const started = performance.now();
  const ds = path.resolve(dataset);
  if (o.preds.length < 2)
    throw invalidArgument("--preds: give at least two predictions to fuse, separated by commas");
  const preds: OpenedPrediction[] = [];
  for (const p of o.preds) preds.push(await openPrediction(ds, p));
  if (new Set(preds.map((p) => p.group)).size !== preds.length)
    throw invalidArgument("--preds names a prediction twice");
  const first = preds[0]!.prob;
  for (const p of preds.slice(1)) {
    const m = p.prob.meta;
    if (
      format(m.shape) !== format(first.meta.shape) ||
      format(m.voxelSize) !== format(first.meta.voxelSize) ||
      format(m.offset) !== format(first.meta.offset)
    ) {
      throw invalidArgument(
        `${p.group} (${format(m.shape)} voxels of ${format(m.voxelSize)} nm) and ${preds[0]!.group} (${format(first.meta.shape)} of ${format(first.meta.voxelSize)} nm) are not on one grid; fuse predictions made at the same voxel size`,
      );
    }
  }
  if (o.threshold !== undefined) checkThreshold(o.threshold);
  const thresholds = await Promise.all(
    preds.map(async (p) => {
      if (o.threshold !== undefined) return o.threshold;
      const seg = await Volume.open(ds, `${p.group}/seg`).catch(() => undefined);
      const t = (seg?.attrs.prediction as { threshold?: unknown } | undefined)?.threshold;
      return typeof t === "number" ? t : 0.5;
    }),
  );
  let ranks: number[] | null = null;
  if (o.priority && o.priority.length > 0) {
    const order: number[] = [];
    for (const name of o.priority) {
      const hits = preds
        .map((p, i) => ({ p, i }))
        .filter(({ p }) => p.organelle === name || p.group === name || p.group === `predictions/${name}`);
      if (hits.length === 0) {
        throw invalidArgument(
          `--priority ${name}: not one of the fused predictions (${preds.map((p) => p.organelle).join(", ")})`,
        );
      }
      if (hits.length > 1)
        throw invalidArgument(
          `--priority ${name}: matches several predictions; name them as <model>/<organelle>`,
        );
      if (order.includes(hits[0]!.i)) throw invalidArgument(`--priority names ${name} twice`);
      order.push(hits[0]!.i);
    }
    for (let i = 0; i < preds.length; i++) if (!order.includes(i)) order.push(i);
    ranks = preds.map((_, i) => order.indexOf(i));
  }
  const output = o.output ?? "predictions/fused";
  const dtype = preds.length <= 255 ? ("uint8" as const) : ("uint16" as const);
  const rule = ranks ? ("priority" as const) : ("probability" as const);
  const idTable = preds.map((p, i) => ({
    id: i + 1,
    organelle: p.organelle,
    prediction: p.group,
    threshold: thresholds[i]!,
  }));
  const key = runKey({ verb: "fuse", ids: idTable, ranks });
  const { runId } = await openRunOutput(
    ds,
    output,
    {
      shape: first.meta.shape,
      dtype,
      voxelSize: first.meta.voxelSize,
      offset: first.meta.offset,
      chunks: first.meta.chunks,
      format: first.meta.format,
      kind: "label",
      attrs: { fusion: { rule, ids: idTable, ...(ranks ? { priority: o.priority } : {}) } },
    },
    key,
    o.overwrite ?? false,
  );
  const vs = first.meta.voxelSize;
  const edge = (d: number) =>
    first.meta.chunks[d]! * Math.max(1, Math.floor(128 / first.meta.chunks[d]!)) * vs[d]!;
  const spec: BlockwiseTaskSpec = {
    name: `fuse ${preds.map((p) => p.organelle).join(", ")}`,
    totalWriteRoi: first.roi,
    blockShape: coord(edge(0), edge(1), edge(2)),
    context: uniform(0),
    voxelSize: vs,
  };
  const call: TaskCall<FuseParams> = {
    fn: "predict.fuse",
    params: {
      dataset: ds,
      probs: preds.map((p) => `${p.group}/prob`),
      levels: thresholds.map(thresholdLevel),
      ranks,
      output,
    },
  };
  const journal = jobJournalPath(ds, `${jobKey(spec, call)}-${runId}`);
  const summary = await runInWorkers(spec, call, {
    journal,
    ...(o.workers ? { workers: o.workers } : {}),
    ...(o.progress === false ? { progress: false as const } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const voxels = new Array<number>(preds.length).fill(0);
  let contested = 0;
  for (const v of summary.values.values()) {
    const f = v as FuseValue;
    f.voxels.forEach((n, i) => {
      voxels[i]! += n;
    });
    contested += f.contested;
  }
  const ids = idTable.map((t, i) => ({ ...t, voxels: voxels[i]! }));
  await finishRunOutput(ds, output, {
    pyramid: first.levels.length > 1,
    patch: { fusion: { rule, ids, contested, ...(ranks ? { priority: o.priority } : {}) } },
    ...(o.signal ? { signal: o.signal } : {}),
  });
  await fs.promises.rm(journal, { force: true });
  return { output, dtype, rule, ids, contested, seconds: (performance.now() - started) / 1000 };
}
