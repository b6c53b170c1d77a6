import { niceTicks } from "../learn/plot.ts";

/*
 * The report's plots as inline SVG (text stays selectable and searchable, no image files): histograms
 * of one quantity with one translucent series per dataset, on a log axis for sizes that span decades,
 * and grouped bar charts (a group per organelle, a bar per dataset).
 */

export interface HistogramSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  /** One value per group; null = not measured. */
  readonly values: readonly (number | null)[];
}

const W = 560;
const H = 260;
const M = { left: 58, right: 14, top: 30, bottom: 42 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Compact number: 1.2e6 style from 1e4, else up to 3 significant digits. */
export function shortNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(title)}">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="18" font-size="13" font-weight="600">${escapeXml(title)}</text>`,
    ...body,
    `<line x1="${M.left}" y1="${M.top + PH}" x2="${M.left + PW}" y2="${M.top + PH}" stroke="#444"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + PH}" stroke="#444"/>`,
    `<text x="${M.left + PW / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="12" y="${M.top + PH / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${M.top + PH / 2})">${escapeXml(yLabel)}</text>`,
    "</svg>",
  ].join("\n");
}

function yAxis(max: number): { py: (v: number) => number; body: string[] } {
  const ticks = niceTicks(0, max > 0 ? max : 1, 4);
  const top = Math.max(ticks[ticks.length - 1] ?? 1, max, 1e-12);
  const py = (v: number) => M.top + PH - (v / top) * PH;
  const body = ticks.map(
    (t) =>
      `<line x1="${M.left}" x2="${M.left + PW}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e4e4e4"/><text x="${M.left - 5}" y="${(py(t) + 4).toFixed(1)}" font-size="10" text-anchor="end">${shortNumber(t)}</text>`,
  );
  return { py, body };
}

function legend(series: readonly { name: string; color: string }[]): string[] {
  if (series.length < 2) return [];
  let x = M.left + PW;
  const out: string[] = [];
  for (const s of [...series].reverse()) {
    const w = 7 * s.name.length + 18;
    x -= w;
    out.push(
      `<rect x="${x}" y="9" width="10" height="10" fill="${s.color}" fill-opacity="0.6"/><text x="${x + 14}" y="18" font-size="11">${escapeXml(s.name)}</text>`,
    );
  }
  return out;
}

/** log10 positions of 1-2-5 ticks (powers of ten over many decades; linear nice ticks within one). */
function logTicks(lo: number, hi: number): number[] {
  const mult = hi - lo > 3 ? [1] : [1, 2, 5];
  const out: number[] = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    for (const m of mult) {
      const t = Math.log10(m * 10 ** k);
      if (t >= lo - 1e-9 && t <= hi + 1e-9) out.push(t);
    }
  }
  if (out.length >= 2) return out;
  return niceTicks(10 ** lo, 10 ** hi, 3)
    .filter((v) => v > 0)
    .map(Math.log10);
}

/**
 * Histogram of the series over shared bins: `log` bins log10 of the (positive) values. Counts per bin
 * are stored on each bar as data-count for tests and tooltips.
 */
export function histogramSvg(o: {
  title: string;
  xLabel: string;
  series: readonly HistogramSeries[];
  log?: boolean;
  bins?: number;
}): string {
  const tx = (v: number) => (o.log ? Math.log10(v) : v);
  const all = o.series.flatMap((s) =>
    s.values.filter((v) => Number.isFinite(v) && (!o.log || v > 0)).map(tx),
  );
  if (all.length === 0)
    return frame(o.title, o.xLabel, "count", [
      `<text x="${M.left + 10}" y="${M.top + 20}" font-size="12">no values</text>`,
    ]);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const nb = o.bins ?? Math.min(30, Math.max(5, Math.ceil(Math.sqrt(all.length))));
  const width = (hi - lo) / nb;
  const counts = o.series.map((s) => {
    const c = new Array<number>(nb).fill(0);
    for (const v of s.values) {
      if (!Number.isFinite(v) || (o.log && v <= 0)) continue;
      const b = Math.min(nb - 1, Math.floor((tx(v) - lo) / width));
      c[b]!++;
    }
    return c;
  });
  const { py, body } = yAxis(Math.max(...counts.flat()));
  const px = (t: number) => M.left + ((t - lo) / (hi - lo)) * PW;
  const xt = o.log ? logTicks(lo, hi) : niceTicks(lo, hi, 5);
  for (const t of xt) {
    const label = shortNumber(o.log ? 10 ** t : t);
    body.push(
      `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${M.top + PH}" y2="${M.top + PH + 4}" stroke="#444"/><text x="${px(t).toFixed(1)}" y="${M.top + PH + 15}" font-size="10" text-anchor="middle">${label}</text>`,
    );
  }
  o.series.forEach((s, k) => {
    counts[k]!.forEach((c, b) => {
      if (c === 0) return;
      const x0 = px(lo + b * width);
      const x1 = px(lo + (b + 1) * width);
      body.push(
        `<rect class="bar" data-series="${escapeXml(s.name)}" data-count="${c}" x="${(x0 + 0.5).toFixed(1)}" y="${py(c).toFixed(1)}" width="${Math.max(0.5, x1 - x0 - 1).toFixed(1)}" height="${(M.top + PH - py(c)).toFixed(1)}" fill="${s.color}" fill-opacity="${o.series.length > 1 ? 0.5 : 0.8}" stroke="${s.color}"><title>${escapeXml(s.name)}: ${c}</title></rect>`,
      );
    });
  });
  body.push(...legend(o.series));
  return frame(o.title, o.xLabel, "count", body);
}

/** Grouped bars: one group per label, one bar per series. */
export function barChartSvg(o: {
  title: string;
  yLabel: string;
  groups: readonly string[];
  series: readonly BarSeries[];
  format?: (v: number) => string;
  /** With one series: a colour per group (e.g. the organelle's) instead of the series colour. */
  groupColors?: readonly string[];
}): string {
  const values = o.series.flatMap((s) =>
    s.values.filter((v): v is number => v !== null && Number.isFinite(v)),
  );
  const { py, body } = yAxis(values.length ? Math.max(...values) : 1);
  const gw = PW / Math.max(1, o.groups.length);
  const bw = (gw * 0.8) / Math.max(1, o.series.length);
  const fmt = o.format ?? shortNumber;
  o.groups.forEach((g, i) => {
    const gx = M.left + i * gw + gw * 0.1;
    body.push(
      `<text x="${(M.left + (i + 0.5) * gw).toFixed(1)}" y="${M.top + PH + 15}" font-size="10" text-anchor="middle">${escapeXml(g)}</text>`,
    );
    o.series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const x = gx + k * bw;
      body.push(
        `<rect class="bar" data-series="${escapeXml(s.name)}" data-group="${escapeXml(g)}" data-value="${v}" x="${x.toFixed(1)}" y="${py(v).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(M.top + PH - py(v)).toFixed(1)}" fill="${(o.series.length === 1 && o.groupColors?.[i]) || s.color}" fill-opacity="0.8"><title>${escapeXml(`${s.name} ${g}: ${fmt(v)}`)}</title></rect>`,
      );
    });
  });
  body.push(...legend(o.series));
  return frame(o.title, "", o.yLabel, body);
}
