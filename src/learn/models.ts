import * as fs from "node:fs";
import * as path from "node:path";
import { notFound } from "../core/errors.ts";
import { type RunSummary, summarizeRun } from "./report.ts";
import { RESOLVED, RUN_JSON, readJsonFile } from "./run-dir.ts";

/*
 * `organelle models [DIR...]`: the training runs under a directory (a run itself, or runs up to two
 * levels down) with their checkpoints and validation scores, and the model packages (directories with
 * organelle's model.json, as `organelle import-model` installs them) with what they were trained for.
 */

function plateauTolerance(runDir: string): number {
  try {
    const r = readJsonFile<{ evaluation?: { plateau_tolerance?: number } }>(path.join(runDir, RESOLVED));
    return r.evaluation?.plateau_tolerance ?? 0.05;
  } catch {
    return 0.05;
  }
}

function findDirs(dir: string, marker: string, depth: number): string[] {
  if (!fs.existsSync(dir)) throw notFound(`${dir}: no such directory`);
  if (fs.existsSync(path.join(dir, marker))) return [path.resolve(dir)];
  if (depth === 0 || !fs.statSync(dir).isDirectory()) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory() && !e.name.startsWith("."))
      out.push(...findDirs(path.join(dir, e.name), marker, depth - 1));
  }
  return out;
}

export function findRuns(dir: string, depth = 2): string[] {
  return findDirs(dir, RUN_JSON, depth);
}

/** Model package directories (with organelle's model.json) under `dir`, up to `depth` levels down. */
export function findPackages(dir: string, depth = 2): string[] {
  return findDirs(dir, MODEL_JSON, depth).filter((d) => !fs.existsSync(path.join(d, RUN_JSON)));
}

const MODEL_JSON = "model.json";

export interface PackageSummary {
  readonly dir: string;
  readonly name: string;
  readonly organelle: string;
  readonly voxelSize: readonly number[] | null;
  readonly inputShape: readonly number[] | null;
  readonly outputShape: readonly number[] | null;
  /** True when the directory is a bioimage.io package (rdf.yaml or bioimageio.yaml beside model.json). */
  readonly bioimageio: boolean;
  readonly training: { readonly run: string | null; readonly step: number | null } | null;
  readonly validation: {
    readonly f1: number;
    readonly precision: number;
    readonly recall: number;
    readonly loss: number;
  } | null;
  /** Why the description could not be read (the package is listed anyway). */
  readonly problem?: string;
}

export function summarizePackage(dir: string): PackageSummary {
  const bioimageio = ["rdf.yaml", "bioimageio.yaml"].some((f) => fs.existsSync(path.join(dir, f)));
  interface J {
    name?: unknown;
    organelle?: unknown;
    voxelSize?: number[];
    onnx?: { inputShape?: number[] };
    outputShape?: number[];
    training?: { run?: string | null; step?: number | null; validation?: Record<string, number> | null };
  }
  let j: J;
  try {
    j = readJsonFile<J>(path.join(dir, MODEL_JSON));
  } catch (e) {
    return {
      dir,
      name: path.basename(dir),
      organelle: "?",
      voxelSize: null,
      inputShape: null,
      outputShape: null,
      bioimageio,
      training: null,
      validation: null,
      problem: (e as Error).message,
    };
  }
  const v = j.training?.validation;
  return {
    dir,
    name: typeof j.name === "string" ? j.name : path.basename(dir),
    organelle: typeof j.organelle === "string" ? j.organelle : "?",
    voxelSize: j.voxelSize ?? null,
    inputShape: j.onnx?.inputShape ?? null,
    outputShape: j.outputShape ?? null,
    bioimageio,
    training: j.training ? { run: j.training.run ?? null, step: j.training.step ?? null } : null,
    validation:
      v && typeof v.f1 === "number"
        ? {
            f1: v.f1,
            precision: v.precision ?? Number.NaN,
            recall: v.recall ?? Number.NaN,
            loss: v.loss ?? Number.NaN,
          }
        : null,
  };
}

export function listPackages(dir: string): PackageSummary[] {
  return findPackages(dir).map(summarizePackage);
}

export function listRuns(dir: string): RunSummary[] {
  return findRuns(dir).map((r) => summarizeRun(r, plateauTolerance(r)));
}

const f3 = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(3);

export function formatPackages(packages: readonly PackageSummary[], base = process.cwd()): string {
  const lines = packages.map((p) => {
    const where = path.relative(base, p.dir) || ".";
    if (p.problem) return `${where}  (unreadable: ${p.problem})`;
    const shape =
      p.inputShape && p.outputShape ? `  ${p.inputShape.join("x")} -> ${p.outputShape.join("x")}` : "";
    const vs = p.voxelSize ? `  @ ${p.voxelSize.join(" x ")} nm` : "";
    const from = p.training?.run ? `  from ${path.basename(p.training.run)}:${p.training.step}` : "";
    const f1 = p.validation
      ? `  F1 ${f3(p.validation.f1)} (precision ${f3(p.validation.precision)}, recall ${f3(p.validation.recall)})`
      : "  not validated";
    return `${where}  ${p.organelle}  package${p.bioimageio ? " (bioimage.io)" : ""}${shape}${vs}${f1}${from}`;
  });
  return lines.length ? `${lines.join("\n")}\n` : "";
}

export function formatRuns(runs: readonly RunSummary[], base = process.cwd()): string {
  if (runs.length === 0) return "no training runs found\n";
  const lines: string[] = [];
  for (const r of runs) {
    const i = r.info;
    const model = i
      ? `${i.model.preset ?? "custom"} ${i.model.inputShape.join("x")} -> ${i.model.outputShape.join("x")}`
      : "?";
    const best = r.choice.best ? `best ${r.choice.best.step} (F1 ${f3(r.choice.best.f1)})` : "not validated";
    const p = r.choice.plateau;
    const plateau = p ? `, plateau ${p.from}-${p.to} -> ${p.chosen}` : "";
    const from = i?.from ? `, fine-tuned from ${path.relative(base, i.from.run) || "."}:${i.from.step}` : "";
    lines.push(
      `${path.relative(base, r.runDir) || "."}  ${i?.organelle ?? "?"}  ${model}  ${r.steps} steps  ${best}${plateau}${from}`,
    );
    if (r.initial) lines.push(`  start     F1 ${f3(r.initial.f1)}  (weights before fine-tuning)`);
    if (r.checkpoints.length) lines.push("  step        val loss  F1     precision  recall");
    for (const c of r.checkpoints) {
      const marks = [r.choice.best?.step === c.step ? "best" : "", p?.chosen === c.step ? "plateau" : ""]
        .filter(Boolean)
        .join(", ");
      lines.push(
        `  ${String(c.step).padEnd(10)}  ${f3(c.loss).padStart(8)}  ${f3(c.f1)}  ${f3(c.precision).padStart(9)}  ${f3(c.recall).padStart(6)}${c.file ? "" : "  (file removed)"}${marks ? `  <- ${marks}` : ""}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
