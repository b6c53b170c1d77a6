import * as fs from "node:fs";
import * as path from "node:path";
import { type CheckpointChoice, chooseCheckpoints, type ValidatedCheckpoint } from "./checkpoint-choice.ts";
import { plotPng, type Series } from "./plot.ts";
import {
  type CheckpointRecord,
  listCheckpoints,
  type MetricRecord,
  RUN_JSON,
  type RunInfo,
  readJsonFile,
  readMetrics,
  type TrainRecord,
  type ValidationRecord,
  writeFileAtomic,
} from "./run-dir.ts";

/*
 * What a run directory says about itself: its checkpoints with their validation scores, the checkpoint
 * choice (best F1, plateau of the validation loss), loss/F1 curves (PNG) and an HTML summary. Built from
 * metrics.jsonl alone, so `organelle models` and the summary agree with what training logged.
 */

export interface RunSummary {
  readonly runDir: string;
  readonly info: RunInfo | null;
  readonly steps: number;
  readonly checkpoints: readonly (ValidatedCheckpoint & {
    readonly file: string | null;
    readonly precision: number;
    readonly recall: number;
  })[];
  readonly choice: CheckpointChoice;
  /** A fine-tuning run's validation of its starting weights. */
  readonly initial: ValidationRecord | null;
  readonly lastTrainLoss: number | null;
}

/** Moving average over `n` points (for noisy per-step losses). */
function smooth(points: [number, number][], n: number): [number, number][] {
  const out: [number, number][] = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i]![1];
    if (i >= n) sum -= points[i - n]![1];
    out.push([points[i]![0], sum / Math.min(i + 1, n)]);
  }
  return out;
}

export function summarizeRun(
  runDir: string,
  tolerance: number,
  records: readonly MetricRecord[] = readMetrics(runDir),
): RunSummary {
  const infoFile = path.join(runDir, RUN_JSON);
  const info = fs.existsSync(infoFile) ? readJsonFile<RunInfo>(infoFile) : null;
  const files = new Map(
    listCheckpoints(runDir).map((s) => [
      s,
      path.join("checkpoints", `step-${String(s).padStart(8, "0")}.pt`),
    ]),
  );
  const vals = new Map<number, ValidationRecord>();
  let initial: ValidationRecord | null = null;
  let lastTrain: TrainRecord | null = null;
  for (const r of records) {
    if (r.type === "validation") {
      if (r.label === "initial") initial = r;
      else vals.set(r.step, r);
    }
    if (r.type === "train") lastTrain = r;
  }
  const checkpointSteps = new Set(
    records.filter((r): r is CheckpointRecord => r.type === "checkpoint").map((r) => r.step),
  );
  const checkpoints = [...vals.values()]
    .filter((v) => checkpointSteps.has(v.step) || files.has(v.step))
    .sort((a, b) => a.step - b.step)
    .map((v) => ({
      step: v.step,
      loss: v.loss,
      f1: v.f1,
      precision: v.precision,
      recall: v.recall,
      file: files.get(v.step) ?? null,
    }));
  return {
    runDir,
    info,
    steps: lastTrain?.step ?? 0,
    checkpoints,
    choice: chooseCheckpoints(checkpoints, tolerance),
    initial,
    lastTrainLoss: lastTrain?.loss ?? null,
  };
}

const RED: [number, number, number] = [214, 39, 40];
const BLUE: [number, number, number] = [31, 119, 180];
const GREEN: [number, number, number] = [44, 160, 44];
const GREY: [number, number, number] = [170, 170, 170];

/** Writes plots/loss.png, plots/f1.png and summary.html. */
export function writeReport(runDir: string, tolerance: number, title: string): RunSummary {
  const records = readMetrics(runDir);
  const summary = summarizeRun(runDir, tolerance, records);
  const train = records
    .filter((r): r is TrainRecord => r.type === "train")
    .map((r) => [r.step, r.loss] as [number, number]);
  const vals = records
    .filter((r): r is ValidationRecord => r.type === "validation")
    .sort((a, b) => a.step - b.step);
  const window = Math.max(1, Math.round(train.length / 50));
  const lossSeries: Series[] = [
    { name: "train", color: window > 1 ? GREY : RED, points: train },
    ...(window > 1 ? [{ name: `train (mean of ${window})`, color: RED, points: smooth(train, window) }] : []),
    {
      name: "validation",
      color: BLUE,
      points: vals.filter((v) => !v.label).map((v) => [v.step, v.loss] as [number, number]),
    },
  ];
  writeFileAtomic(
    path.join(runDir, "plots", "loss.png"),
    plotPng(lossSeries, { title: "Loss", xLabel: "step", logY: true }),
  );
  const f1Series: Series[] = [
    { name: "F1", color: GREEN, points: vals.map((v) => [v.step, v.f1]) },
    { name: "precision", color: BLUE, points: vals.map((v) => [v.step, v.precision]) },
    { name: "recall", color: RED, points: vals.map((v) => [v.step, v.recall]) },
  ];
  writeFileAtomic(
    path.join(runDir, "plots", "f1.png"),
    plotPng(f1Series, { title: "Validation", xLabel: "step", yRange: [0, 1] }),
  );
  writeFileAtomic(path.join(runDir, "summary.html"), html(summary, vals, title));
  return summary;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

const f3 = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(3);

function html(s: RunSummary, vals: readonly ValidationRecord[], title: string): string {
  const best = s.choice.best?.step;
  const plateau = s.choice.plateau;
  const rows = s.checkpoints
    .map((c) => {
      const marks = [c.step === best ? "best F1" : "", plateau && c.step === plateau.chosen ? "plateau" : ""]
        .filter(Boolean)
        .join(", ");
      const inPlateau = plateau && c.step >= plateau.from && c.step <= plateau.to;
      return `<tr${inPlateau ? ' class="plateau"' : ""}><td>${c.step}</td><td>${f3(c.loss)}</td><td>${f3(c.f1)}</td><td>${f3(c.precision)}</td><td>${f3(c.recall)}</td><td>${esc(c.file ?? "(removed)")}</td><td>${marks}</td></tr>`;
    })
    .join("\n");
  const last = vals.at(-1);
  const roiRows = (last?.rois ?? [])
    .map(
      (r) =>
        `<tr><td>${esc(r.source)}</td><td>${esc(r.roi)}</td><td>${f3(r.loss)}</td><td>${f3(r.f1)}</td><td>${f3(r.precision)}</td><td>${f3(r.recall)}</td><td>${r.counted}</td></tr>`,
    )
    .join("\n");
  const info = s.info;
  const model = info
    ? `${esc(info.model.preset ?? "custom spec")}, input ${info.model.inputShape.join("x")} -> output ${info.model.outputShape.join("x")} voxels, ${info.model.parameters.toLocaleString("en")} parameters, voxel size ${info.voxelSize.join("x")} nm`
    : "";
  const initial = s.initial
    ? `<p>Fine-tuned from ${esc(info?.from?.run ?? "?")} step ${info?.from?.step ?? "?"}: validation F1 before ${f3(s.initial.f1)}, best after ${f3(s.choice.best?.f1)}.</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}tr.plateau{background:#eef6ff}img{max-width:100%}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>${info ? `Organelle <b>${esc(info.organelle)}</b>; model ${model}. Created ${esc(info.created)}; organelle ${esc(info.git.commit ?? "(no git)")}${info.git.dirty ? " (with local changes)" : ""}.` : ""}</p>
${initial}
<p>Steps trained: ${s.steps}. Best checkpoint by validation F1: <b>${best ?? "–"}</b> (F1 ${f3(s.choice.best?.f1)}).
Plateau of the validation loss (within ${plateau ? (plateau.tolerance * 100).toFixed(0) : "–"} % of its minimum ${f3(plateau?.minLoss)}): steps ${plateau?.from ?? "–"}–${plateau?.to ?? "–"}, middle <b>${plateau?.chosen ?? "–"}</b>.</p>
<img src="plots/loss.png" alt="loss"> <img src="plots/f1.png" alt="F1">
<h2>Checkpoints</h2>
<table><tr><th>step</th><th>val loss</th><th>F1</th><th>precision</th><th>recall</th><th>file</th><th></th></tr>
${rows}
</table>
<h2>Last validation, per ROI (step ${last?.step ?? "–"})</h2>
<table><tr><th>source</th><th>ROI</th><th>loss</th><th>F1</th><th>precision</th><th>recall</th><th>voxels</th></tr>
${roiRows}
</table>
</body></html>
`;
}
