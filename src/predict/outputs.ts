import * as fs from "node:fs";
import * as path from "node:path";
import { invalidArgument, notFound } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { newRunId, setAttrs } from "../preprocess/jobs.ts";
import { buildPyramid } from "../store/pyramid.ts";
import { type CreateVolumeOptions, Volume } from "../store/volume.ts";
import { arrayExists, openIfExists } from "./arrays.ts";

/*
 * Finding predictions in a dataset and writing arrays derived from them (re-thresholded segmentations,
 * fused labels) the way every block-wise verb does: created incomplete with the run's key and id, resumed
 * by the same command, marked complete after the pyramid.
 */

export interface OpenedPrediction {
  /** predictions/<model>/<organelle> */
  readonly group: string;
  readonly model: string;
  readonly organelle: string;
  readonly prob: Volume;
}

/** A prediction named as predictions/<model>/<organelle>[/prob|/seg] or <model>/<organelle>. */
export async function openPrediction(dataset: string, name: string): Promise<OpenedPrediction> {
  const clean = name.replace(/\/+$/, "").replace(/\/(prob|seg)$/, "");
  const group = clean.startsWith("predictions/") ? clean : `predictions/${clean}`;
  const parts = group.split("/");
  if (parts.length !== 3 || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw invalidArgument(
      `${name}: name a prediction as predictions/<model>/<organelle> (or <model>/<organelle>)`,
    );
  }
  if (!arrayExists(dataset, `${group}/prob`)) {
    const have = listPredictions(dataset);
    throw notFound(
      `${path.join(dataset, group)}: no such prediction${have.length ? ` (the dataset has ${have.join(", ")})` : " (the dataset has none; run organelle predict)"}`,
    );
  }
  const prob = await Volume.open(dataset, `${group}/prob`);
  return { group, model: parts[1]!, organelle: parts[2]!, prob };
}

/** predictions/<model>/<organelle> groups of a dataset. */
export function listPredictions(dataset: string): string[] {
  const root = path.join(dataset, "predictions");
  const out: string[] = [];
  const dirs = (p: string) => {
    try {
      return fs
        .readdirSync(p, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith("."))
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  };
  for (const m of dirs(root))
    for (const o of dirs(path.join(root, m)))
      if (arrayExists(dataset, `predictions/${m}/${o}/prob`)) out.push(`predictions/${m}/${o}`);
  return out;
}

/** What a probability map records as predicted ("all", or ROIs). */
export function predictedRegions(prob: Volume): "all" | Roi[] {
  const p = (prob.attrs.prediction as { predicted?: unknown } | undefined)?.predicted;
  if (p === "all" || p === undefined) return "all";
  if (!Array.isArray(p)) return [];
  return p.map((r, i) => Roi.fromJSON(r, `${prob.describe()}: prediction.predicted[${i}]`));
}

/**
 * Opens `array` for a run with `key` when an interrupted run with the same key left it (resume), else
 * creates it afresh (replacing what is there only with `replace`).
 */
export async function openRunOutput(
  dataset: string,
  array: string,
  create: CreateVolumeOptions,
  key: string,
  replace: boolean,
): Promise<{ volume: Volume; runId: string; resumed: boolean }> {
  const existing = await openIfExists(dataset, array);
  if (
    existing &&
    existing.attrs.complete === false &&
    existing.attrs.run === key &&
    typeof existing.attrs.runId === "string"
  ) {
    return { volume: existing, runId: existing.attrs.runId, resumed: true };
  }
  if (existing && !replace) {
    throw invalidArgument(`${path.join(dataset, array)} already exists; pass --overwrite to replace it`);
  }
  const runId = newRunId();
  const volume = await Volume.create(dataset, array, {
    ...create,
    attrs: { ...(create.attrs ?? {}), run: key, runId },
    overwrite: true,
  });
  return { volume, runId, resumed: false };
}

/** Builds the pyramid of a run's output (when asked) and marks it complete. */
export async function finishRunOutput(
  dataset: string,
  array: string,
  o: { pyramid: boolean; signal?: AbortSignal; patch?: Record<string, unknown> },
): Promise<number> {
  let levels = 1;
  if (o.pyramid) {
    const r = await buildPyramid(dataset, array, {
      allowIncomplete: true,
      complete: false,
      overwrite: true,
      progress: false,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    levels = r.levels.length;
  }
  await setAttrs(dataset, array, { ...(o.patch ?? {}), run: undefined, runId: undefined, complete: true });
  return levels;
}
