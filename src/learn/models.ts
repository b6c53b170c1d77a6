import * as fs from "node:fs";
import * as path from "node:path";
import { notFound } from "../core/errors.ts";
import { type RunSummary, summarizeRun } from "./report.ts";
import { RESOLVED, RUN_JSON, readJsonFile } from "./run-dir.ts";

/*
 * `organelle models [RUNS_DIR]`: the training runs under a directory (a run itself, or runs up to two
 * levels down) with their checkpoints and validation scores.
 */

function plateauTolerance(runDir: string): number {
  try {
    const r = readJsonFile<{ evaluation?: { plateau_tolerance?: number } }>(path.join(runDir, RESOLVED));
    return r.evaluation?.plateau_tolerance ?? 0.05;
  } catch {
    return 0.05;
  }
}

export function findRuns(dir: string, depth = 2): string[] {
  if (!fs.existsSync(dir)) throw notFound(`${dir}: no such directory`);
  if (fs.existsSync(path.join(dir, RUN_JSON))) return [path.resolve(dir)];
  if (depth === 0) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory() && !e.name.startsWith(".")) out.push(...findRuns(path.join(dir, e.name), depth - 1));
  }
  return out;
}

export function listRuns(dir: string): RunSummary[] {
  return findRuns(dir).map((r) => summarizeRun(r, plateauTolerance(r)));
}

const f3 = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(3);

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
