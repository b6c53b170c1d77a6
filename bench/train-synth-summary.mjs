// Per-checkpoint validation F1 of a run of bench/train-synth.sh, with wall and CPU time (trainer +
// engine), and the first checkpoint whose whole-naive-cell F1 reaches 0.90.
//   node bench/train-synth-summary.mjs RUN_DIR [WALL_SECONDS]
import * as fs from "node:fs";

const [run, wall] = process.argv.slice(2);
if (!run) {
  console.error("usage: node bench/train-synth-summary.mjs RUN_DIR [WALL_SECONDS]");
  process.exit(2);
}
const recs = fs
  .readFileSync(`${run}/metrics.jsonl`, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));
const vals = recs.filter((r) => r.type === "validation");
const steps = recs.filter((r) => r.type === "train");
const roi = (v, name) => v.rois.find((r) => r.source === name);
const f1 = (v, name) => roi(v, name)?.f1 ?? Number.NaN;
const f3 = (x) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(3));
const min = (s) => (s == null ? "-" : (s / 60).toFixed(1));
const names = [...new Set(vals.flatMap((v) => v.rois.map((r) => r.source)))];

console.log(`\n${run}`);
console.log(
  `step    wall min  CPU min  CPU/2 min  ${names.map((n) => `${n} F1`.padStart(Math.max(10, n.length + 3))).join("  ")}  (last: precision / recall)`,
);
for (const v of vals) {
  const last = roi(v, names.at(-1));
  const label = v.label ? `${v.label}` : String(v.step);
  console.log(
    `${label.padEnd(7)} ${min(v.time).padStart(8)}  ${min(v.cpu).padStart(7)}  ${min(v.cpu == null ? null : v.cpu / 2).padStart(9)}  ${names
      .map((n) => f3(f1(v, n)).padStart(Math.max(10, n.length + 3)))
      .join("  ")}  (${f3(last?.precision)} / ${f3(last?.recall)})`,
  );
}
const trained = vals.filter((v) => !v.label);
const target = names.includes("naive-cell") ? "naive-cell" : names.at(-1);
const first = trained.find((v) => f1(v, target) >= 0.9);
const lastStep = steps.at(-1);
if (lastStep) {
  const cpu = lastStep.cpu == null ? "" : `, ${min(lastStep.cpu)} CPU-min`;
  console.log(
    `\n${lastStep.step} steps${wall ? ` in ${(Number(wall) / 60).toFixed(1)} wall-min (this command)` : ""}; last step at ${min(lastStep.time)} wall-min${cpu} of trainer + engine`,
  );
}
if (target) {
  console.log(
    first
      ? `${target}: F1 first >= 0.90 at step ${first.step}: ${f3(f1(first, target))} after ${min(first.time)} wall-min, ${min(first.cpu)} CPU-min (${min(first.cpu == null ? null : first.cpu / 2)} min on 2 free cores)`
      : `${target}: F1 never reached 0.90${trained.length ? ` (best ${f3(Math.max(...trained.map((v) => f1(v, target))))})` : ""}`,
  );
}
