import { decode, encode } from "fast-png";
import { plotPng, type Series } from "../learn/plot.ts";
import type { Evaluation } from "./evaluate.ts";
import type { Metrics, SweepPoint } from "./metrics.ts";

/*
 * An evaluation (or several, side by side) as a terminal table, CSV, JSON and a PNG: precision-recall
 * curve on the left, precision / recall / F1 against the threshold on the right (drawn with the line
 * plotter of src/learn/plot.ts).
 */

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "-");
const int = (v: number) => Math.round(v).toLocaleString("en-US");

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)];
}

const METRIC_HEADER = ["voxels", "precision", "recall", "F1", "IoU"];
const metricCells = (m: Metrics & { voxels: number }) => [
  int(m.voxels),
  f3(m.precision),
  f3(m.recall),
  f3(m.f1),
  f3(m.iou),
];

export function formatEvaluation(e: Evaluation): string {
  const scope = [
    e.mask ? `inside ${e.mask}` : "every voxel (no mask)",
    e.exclusion ? `outside ${e.exclusion}` : null,
  ]
    .filter(Boolean)
    .join(", ");
  const lines = [`${e.prediction} against ${e.labels} (${scope}), threshold ${e.threshold}`];
  lines.push(
    ...table(
      ["roi", ...METRIC_HEADER],
      [...e.rois.map((r) => [r.name, ...metricCells(r)]), ["overall", ...metricCells(e.overall)]],
    ),
  );
  if (e.rois.length > 1) lines.push(`mean F1 over the ${e.rois.length} ROIs: ${f3(e.meanF1)}`);
  lines.push("", "threshold sweep (all ROIs pooled):");
  lines.push(
    ...table(
      ["threshold", "precision", "recall", "F1", "IoU"],
      e.sweep.map((p) => [p.threshold.toFixed(2), f3(p.precision), f3(p.recall), f3(p.f1), f3(p.iou)]),
    ),
  );
  const b = e.best;
  lines.push(
    `best threshold ${b.threshold}: F1 ${f3(b.f1)} (precision ${f3(b.precision)}, recall ${f3(b.recall)}, IoU ${f3(b.iou)})`,
  );
  return `${lines.join("\n")}\n`;
}

const CSV_HEADER = "prediction,section,name,threshold,voxels,tp,fp,fn,tn,precision,recall,f1,iou";

function csvRow(
  pred: string,
  section: string,
  name: string,
  threshold: number,
  m: Metrics,
  voxels: number,
): string {
  return [
    pred,
    section,
    name,
    threshold,
    voxels,
    m.tp,
    m.fp,
    m.fn,
    m.tn,
    m.precision,
    m.recall,
    m.f1,
    m.iou,
  ].join(",");
}

/** Rows per ROI, overall and per sweep threshold, for one or more evaluations. */
export function evaluationsCsv(list: readonly Evaluation[]): string {
  const rows = [CSV_HEADER];
  for (const e of list) {
    for (const r of e.rois) rows.push(csvRow(e.prediction, "roi", r.name, e.threshold, r, r.voxels));
    rows.push(csvRow(e.prediction, "overall", "all", e.threshold, e.overall, e.overall.voxels));
    for (const p of e.sweep)
      rows.push(csvRow(e.prediction, "sweep", "all", p.threshold, p, p.tp + p.fp + p.fn + p.tn));
  }
  return `${rows.join("\n")}\n`;
}

export function evaluationJson(e: Evaluation): unknown {
  return { ...e, rois: e.rois.map((r) => ({ ...r, roi: r.roi.toJSON() })) };
}

/** Several evaluations on the same ROIs, one row per prediction. */
export function formatComparison(list: readonly Evaluation[]): string {
  const first = list[0]!;
  const scope = [
    first.mask ? `inside ${first.mask}` : "no mask",
    first.exclusion ? `outside ${first.exclusion}` : null,
  ]
    .filter(Boolean)
    .join(", ");
  const lines = [
    `${list.length} predictions against ${first.labels} (${scope}), threshold ${first.threshold}`,
  ];
  const roiNames = first.rois.map((r) => r.name);
  lines.push(
    ...table(
      [
        "prediction",
        ...roiNames.map((n) => `F1 ${n}`),
        "precision",
        "recall",
        "F1",
        "IoU",
        "best t",
        "best F1",
      ],
      list.map((e) => [
        e.prediction,
        ...e.rois.map((r) => f3(r.f1)),
        f3(e.overall.precision),
        f3(e.overall.recall),
        f3(e.overall.f1),
        f3(e.overall.iou),
        e.best.threshold.toFixed(2),
        f3(e.best.f1),
      ]),
    ),
  );
  return `${lines.join("\n")}\n`;
}

const COLORS: readonly (readonly [number, number, number])[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
];

function shortName(prediction: string): string {
  return prediction.replace(/^predictions\//, "");
}

/** PNG: precision-recall curves (left) and F1 (several) or P/R/F1 (one) against the threshold (right). */
export function evaluationPlot(list: readonly Evaluation[]): Uint8Array {
  const pr: Series[] = list.map((e, i) => ({
    name: list.length === 1 ? "precision vs recall" : shortName(e.prediction),
    color: COLORS[i % COLORS.length]!,
    points: [...e.sweep]
      .sort((a, b) => a.recall - b.recall)
      .map((p) => [p.recall, p.precision] as [number, number]),
  }));
  const byT = (pts: readonly SweepPoint[], f: (p: SweepPoint) => number) =>
    pts.map((p) => [p.threshold, f(p)] as [number, number]);
  const right: Series[] =
    list.length === 1
      ? [
          { name: "precision", color: COLORS[0]!, points: byT(list[0]!.sweep, (p) => p.precision) },
          { name: "recall", color: COLORS[1]!, points: byT(list[0]!.sweep, (p) => p.recall) },
          { name: "F1", color: COLORS[2]!, points: byT(list[0]!.sweep, (p) => p.f1) },
        ]
      : list.map((e, i) => ({
          name: shortName(e.prediction),
          color: COLORS[i % COLORS.length]!,
          points: byT(e.sweep, (p) => p.f1),
        }));
  const a = decode(
    plotPng(pr, { title: "precision / recall", xLabel: "recall", yRange: [0, 1], width: 560, height: 400 }),
  );
  const b = decode(
    plotPng(right, {
      title: list.length === 1 ? "by threshold" : "F1 by threshold",
      xLabel: "threshold",
      yRange: [0, 1],
      width: 560,
      height: 400,
    }),
  );
  const width = a.width + b.width;
  const height = Math.max(a.height, b.height);
  const out = new Uint8Array(width * height * 3).fill(255);
  for (const [img, x0] of [
    [a, 0],
    [b, a.width],
  ] as const) {
    const ch = img.channels;
    for (let y = 0; y < img.height; y++)
      for (let x = 0; x < img.width; x++)
        for (let c = 0; c < 3; c++)
          out[(y * width + x0 + x) * 3 + c] = Number(img.data[(y * img.width + x) * ch + c]);
  }
  return encode({ width, height, data: out, channels: 3, depth: 8 });
}
