import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { fromFsError, invalidArgument, invalidData } from "../core/errors.ts";
import type { Validation } from "./validate.ts";

/*
 * A training run's directory:
 *   config.yaml           the configuration file as given
 *   config.resolved.json  the validated configuration with every default (what the run uses)
 *   run.json              provenance: organelle version (git), creation time, model, shapes, engine
 *   metrics.jsonl         one JSON object per line: {"type":"train"|"validation"|"checkpoint", "step", ...}
 *   checkpoints/step-NNNNNNNN.pt   engine checkpoints (model, optimizer, step, RNG state in meta)
 *   plots/loss.png, plots/f1.png, summary.html
 * Every file is written to a temporary name and renamed; checkpoints by the engine, the same way. On
 * resume, metrics after the checkpoint resumed from are dropped, since those steps run again.
 */

export interface TrainRecord {
  readonly type: "train";
  readonly step: number;
  readonly loss: number;
  /** The learning rate of this step (absent in runs logged before schedules existed). */
  readonly lr?: number;
  /** Seconds since `organelle train` (this process) started. */
  readonly time: number;
  /** CPU seconds used so far by this process and the engine (null where unknown). */
  readonly cpu: number | null;
  readonly foreground: number;
  /** Seconds the loop waited for this batch (data not ready). */
  readonly wait: number;
}

export interface ValidationRecord {
  readonly type: "validation";
  readonly step: number;
  readonly loss: number;
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
  readonly seconds: number;
  /** Seconds since `organelle train` (this process) started, when the validation finished. */
  readonly time: number;
  readonly cpu: number | null;
  readonly rois: Validation["rois"];
  /** "initial": the weights a fine-tuning run starts from. */
  readonly label?: string;
}

export interface CheckpointRecord {
  readonly type: "checkpoint";
  readonly step: number;
  readonly file: string;
  readonly digest: string;
}

export type MetricRecord = TrainRecord | ValidationRecord | CheckpointRecord;

export interface RunInfo {
  readonly organelle: string;
  readonly created: string;
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
  readonly model: {
    readonly preset: string | null;
    readonly spec: unknown;
    readonly inputShape: readonly number[];
    readonly outputShape: readonly number[];
    readonly parameters: number;
  };
  readonly voxelSize: readonly number[];
  readonly engine: unknown;
  /** Fine-tuning: the checkpoint it started from. */
  readonly from?: { readonly run: string; readonly step: number; readonly checkpoint: string };
}

export const METRICS = "metrics.jsonl";
export const RUN_JSON = "run.json";
export const RESOLVED = "config.resolved.json";

export function checkpointDir(runDir: string): string {
  return path.join(runDir, "checkpoints");
}

export function checkpointPath(runDir: string, step: number): string {
  return path.join(checkpointDir(runDir), `step-${String(step).padStart(8, "0")}.pt`);
}

/** Steps of the complete checkpoints in a run (temporary files of an interrupted save are ignored). */
export function listCheckpoints(runDir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(checkpointDir(runDir));
  } catch {
    return [];
  }
  return names
    .map((n) => /^step-(\d+)\.pt$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fromFsError(e, file, "writing");
  }
}

export function readJsonFile<T>(file: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fromFsError(e, file, "reading");
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw invalidData(`${file}: not valid JSON`);
  }
}

export function readMetrics(runDir: string): MetricRecord[] {
  const file = path.join(runDir, METRICS);
  if (!fs.existsSync(file)) return [];
  const out: MetricRecord[] = [];
  const lines = fs.readFileSync(file, "utf8").split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricRecord);
    } catch {
      // A line cut by a kill mid-write is the last one; anything else is damage worth reporting.
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) {
        throw invalidData(`${file}: line ${i + 1} is not valid JSON`);
      }
    }
  }
  return out;
}

/** Appends records to metrics.jsonl. */
export function appendMetrics(runDir: string, ...records: MetricRecord[]): void {
  const file = path.join(runDir, METRICS);
  try {
    fs.appendFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  } catch (e) {
    throw fromFsError(e, file, "appending metrics");
  }
}

/** Keeps only records up to `step` (a resumed run repeats the steps after its checkpoint). */
export function truncateMetrics(runDir: string, step: number): void {
  const kept = readMetrics(runDir).filter((r) => r.step <= step);
  writeFileAtomic(path.join(runDir, METRICS), kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

/** The organelle source's git commit (null outside a checkout) and whether it has local changes. */
export function gitVersion(): { commit: string | null; dirty: boolean | null } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const run = (args: string[]) =>
    execFileSync("git", ["-C", here, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    }).trim();
  try {
    const commit = run(["rev-parse", "HEAD"]);
    let dirty: boolean | null = null;
    try {
      dirty = run(["status", "--porcelain", "--untracked-files=no"]).length > 0;
    } catch {
      dirty = null;
    }
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** Keys whose values may differ between the run directory's configuration and a resumed run's. */
const RESUME_MAY_CHANGE = new Set([
  "training.steps",
  "evaluation",
  "engine",
  "training.prefetch",
  "training.cache_mb",
]);

/** The first configuration path where `a` and `b` differ (ignoring keys a resumed run may change). */
export function configDifference(a: unknown, b: unknown, at = ""): string | null {
  if (RESUME_MAY_CHANGE.has(at)) return null;
  if (a === b) return null;
  if (
    typeof a !== "object" ||
    typeof b !== "object" ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return at || "(top level)";
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const sub = Array.isArray(a) ? `${at}[${k}]` : at ? `${at}.${k}` : k;
    const d = configDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], sub);
    if (d) return d;
  }
  return null;
}

/**
 * Prepares the run directory: a new one gets the configuration files; an existing one must have been
 * made by the same configuration (up to steps, evaluation and engine settings).
 */
export function prepareRunDir(
  runDir: string,
  configText: string,
  resolved: Record<string, unknown>,
): { existing: boolean } {
  const resolvedFile = path.join(runDir, RESOLVED);
  if (fs.existsSync(resolvedFile)) {
    const before = readJsonFile<Record<string, unknown>>(resolvedFile);
    const diff = configDifference(before, JSON.parse(JSON.stringify(resolved)));
    if (diff) {
      throw invalidArgument(
        `${runDir} holds a run made with a different configuration (${diff} differs); choose another run_dir to start a new run, or restore the configuration to continue it`,
      );
    }
    // A longer run keeps its directory; record the configuration it now runs with.
    writeFileAtomic(resolvedFile, `${JSON.stringify(resolved, null, 2)}\n`);
    return { existing: true };
  }
  try {
    fs.mkdirSync(checkpointDir(runDir), { recursive: true });
  } catch (e) {
    throw fromFsError(e, runDir, "creating the run directory");
  }
  writeFileAtomic(path.join(runDir, "config.yaml"), configText);
  writeFileAtomic(resolvedFile, `${JSON.stringify(resolved, null, 2)}\n`);
  writeFileAtomic(path.join(runDir, METRICS), "");
  return { existing: false };
}
