import * as path from "node:path";
import { invalidArgument, isOrganelleError } from "../core/errors.ts";
import { Volume } from "../store/volume.ts";
import { quantile, writeFileAtomic } from "./measure.ts";
import {
  Crop,
  dot,
  frameOf,
  type InstanceMoments,
  instanceMoments,
  pointMoments,
  symmetricEigen,
  type Vec3,
} from "./pores-geometry.ts";
import { ksTestNormal, median, shapiroWilk, type TestResult } from "./stats.ts";

/*
 * `organelle pores`: ASEM's nuclear pore diameters. Each pore instance gives a centroid; the nuclear
 * envelope's local plane through it (a plane fit to the nucleus label's surface around the pore, or the
 * pore's own thinnest axis) gives the normal; the raw image is resampled in the plane through the
 * centroid across that normal (the pore seen from above, as ASEM reoriented each pore), and along 18 lines
 * through the centre, 10 degrees apart, the two membrane peaks (darkest points, or brightest with
 * polarity "bright") on either side are found; the pore's diameter is the median of the 18 peak-to-peak
 * distances. The distribution gets Shapiro–Wilk and a Kolmogorov–Smirnov test against a normal centred on
 * the median with ASEM's measurement uncertainty (6 nm).
 */

export const PORE_COLUMNS = [
  "Pore ID",
  "Diameter (nm)",
  "Radial Measurements",
  "Radial SD (nm)",
  "COM X (nm)",
  "COM Y (nm)",
  "COM Z (nm)",
  "Normal X",
  "Normal Y",
  "Normal Z",
  "Normal Source",
  "Voxels",
] as const;

export interface PoresOptions {
  /** Pore instances (default labels/nuclear_pore). */
  pores?: string;
  /** Nucleus label for the envelope's plane (default labels/nucleus when present; null: pores' own axes). */
  nucleus?: string | null;
  /** Raw image (default raw). */
  raw?: string;
  /** Radius range (nm) searched for the membrane peaks on each side (default 15..100). */
  search?: readonly [number, number];
  /** Membranes are dark (default) or bright in the raw image. */
  polarity?: "dark" | "bright";
  /** sd (nm) of the normal the KS test compares with (default 6, ASEM's measurement uncertainty). */
  ksSd?: number;
  /** Pores with fewer voxels are left out as incomplete masks (default 5). */
  minVoxels?: number;
  /** CSV path in the dataset (default tables/nuclear_pores.csv; the summary goes next to it). */
  table?: string;
  signal?: AbortSignal;
}

export interface PoreRow {
  readonly id: number;
  readonly voxels: number;
  readonly centroid: Vec3;
  readonly normal: Vec3;
  readonly normalSource: "nucleus" | "pore";
  /** Median of the valid radial peak-to-peak distances (nm); NaN when fewer than half were valid. */
  readonly diameter: number;
  readonly measurements: number;
  readonly radialSd: number;
}

export interface PoresSummary {
  readonly count: number;
  readonly measured: number;
  readonly median: number;
  readonly mean: number;
  readonly sd: number;
  readonly p10: number;
  readonly p90: number;
  readonly min: number;
  readonly max: number;
  readonly shapiro: TestResult | undefined;
  readonly ks: (TestResult & { readonly mean: number; readonly sd: number }) | undefined;
}

export interface PoresResult {
  readonly rows: PoreRow[];
  readonly summary: PoresSummary;
  readonly csvPath: string;
  readonly summaryPath: string;
  readonly seconds: number;
}

const RADIAL_LINES = 18;
/** Half-thickness (nm) of the slab across the envelope the profiles average over. */
const SLAB = 3;
/** Radius (nm) of the nucleus surface patch the envelope plane is fitted to. */
const ENVELOPE_PATCH = 250;

export async function runPores(datasetPath: string, opts: PoresOptions = {}): Promise<PoresResult> {
  const t0 = performance.now();
  const search = opts.search ?? [15, 100];
  if (!(search[0] >= 0 && search[1] > search[0] + 2)) {
    throw invalidArgument(`--search ${search.join(",")}: give MIN,MAX radii in nm with 0 <= MIN < MAX - 2`);
  }
  const ksSd = opts.ksSd ?? 6;
  if (!(ksSd > 0)) throw invalidArgument(`--ks-sd ${ksSd}: must be a positive number of nm`);
  const minVoxels = opts.minVoxels ?? 5;
  const poresVol = await Volume.open(datasetPath, opts.pores ?? "labels/nuclear_pore");
  const raw = await Volume.open(datasetPath, opts.raw ?? "raw");
  sameGrid(raw, poresVol);
  const nucleus = await openOptional(datasetPath, opts.nucleus, "labels/nucleus");
  if (nucleus) sameGrid(nucleus, poresVol);
  const moments = (await instanceMoments(poresVol, opts.signal)).filter((m) => m.voxels >= minVoxels);
  const rows: PoreRow[] = [];
  for (const m of moments) {
    opts.signal?.throwIfAborted();
    const { normal, source } = nucleus
      ? await envelopeNormal(nucleus, m)
      : { normal: poreAxis(m), source: "pore" as const };
    const reach = search[1] + SLAB + 3 * Math.max(...raw.meta.voxelSize);
    const crop = await Crop.around(raw, m.centroid, reach);
    const d = radialDiameters(crop, m.centroid, normal, search, opts.polarity ?? "dark");
    const valid = d.filter((v) => !Number.isNaN(v));
    const med = valid.length * 2 >= RADIAL_LINES ? median(valid) : Number.NaN;
    rows.push({
      id: m.id,
      voxels: m.voxels,
      centroid: m.centroid,
      normal,
      normalSource: source,
      diameter: med,
      measurements: valid.length,
      radialSd: sdOf(valid),
    });
  }
  const summary = summarizePores(rows, ksSd);
  const table = opts.table ?? path.join("tables", "nuclear_pores.csv");
  const csvPath = path.join(datasetPath, table);
  const summaryPath = csvPath.replace(/\.csv$/, "") + "_summary.csv";
  await writeFileAtomic(csvPath, poresCsv(rows));
  await writeFileAtomic(summaryPath, poresSummaryCsv(summary));
  return { rows, summary, csvPath, summaryPath, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Peak-to-peak distances along RADIAL_LINES lines through `center` in the plane across `normal`; NaN for
 * a line whose darkest point on a side lies on the edge of the search window (no membrane found).
 */
export function radialDiameters(
  crop: Crop,
  center: Vec3,
  normal: Vec3,
  search: readonly [number, number],
  polarity: "dark" | "bright",
): number[] {
  const [e1, e2] = frameOf(normal);
  const [rmin, rmax] = search;
  const step = 1;
  const n = Math.floor(rmax / step);
  const sign = polarity === "dark" ? 1 : -1;
  const profile = new Float64Array(2 * n + 1);
  const smooth = new Float64Array(2 * n + 1);
  const out: number[] = [];
  for (let k = 0; k < RADIAL_LINES; k++) {
    const th = (k * Math.PI) / RADIAL_LINES;
    const u: Vec3 = [0, 1, 2].map((d) => Math.cos(th) * e1[d]! + Math.sin(th) * e2[d]!) as Vec3;
    let ok = true;
    for (let i = -n; i <= n && ok; i++) {
      let s = 0;
      for (const h of [-SLAB, 0, SLAB]) {
        const v = crop.sample(
          center[0] + i * step * u[0] + h * normal[0],
          center[1] + i * step * u[1] + h * normal[1],
          center[2] + i * step * u[2] + h * normal[2],
        );
        s += v;
      }
      if (Number.isNaN(s)) ok = false;
      profile[i + n] = (sign * s) / 3;
    }
    if (!ok) {
      out.push(Number.NaN);
      continue;
    }
    for (let i = 0; i < profile.length; i++) {
      let s = 0;
      let c = 0;
      for (let j = Math.max(0, i - 2); j <= Math.min(profile.length - 1, i + 2); j++, c++) s += profile[j]!;
      smooth[i] = s / c;
    }
    const plus = darkest(smooth, n + Math.ceil(rmin / step), n + Math.floor(rmax / step));
    const minus = darkest(smooth, n - Math.floor(rmax / step), n - Math.ceil(rmin / step));
    out.push(Number.isNaN(plus) || Number.isNaN(minus) ? Number.NaN : (plus - minus) * step);
  }
  return out;
}

/** Sub-sample position of the minimum of v[lo..hi] (parabola through its neighbours); NaN on an edge. */
function darkest(v: Float64Array, lo: number, hi: number): number {
  let best = lo;
  for (let i = lo; i <= hi; i++) if (v[i]! < v[best]!) best = i;
  if (best === lo || best === hi) return Number.NaN;
  const a = v[best - 1]!;
  const b = v[best]!;
  const c = v[best + 1]!;
  const den = a - 2 * b + c;
  const shift = den > 0 ? (0.5 * (a - c)) / den : 0;
  return best + shift - (v.length - 1) / 2;
}

/** The envelope's normal at a pore: plane fit to the nucleus label's surface around it, pointing out. */
async function envelopeNormal(
  nucleus: Volume,
  m: InstanceMoments,
): Promise<{ normal: Vec3; source: "nucleus" | "pore" }> {
  const crop = await Crop.around(nucleus, m.centroid, ENVELOPE_PATCH);
  const [sz, sy, sx] = crop.box.shape;
  const d = crop.data;
  const pts: number[] = [];
  const outward: Vec3 = [0, 0, 0];
  const strides = [sy * sx, sx, 1];
  const vs = crop.voxelSize;
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++) {
        const i = (z * sy + y) * sx + x;
        const a = d[i] !== 0;
        for (let ax = 0; ax < 3; ax++) {
          if ((ax === 0 && z + 1 >= sz) || (ax === 1 && y + 1 >= sy) || (ax === 2 && x + 1 >= sx)) continue;
          const b = d[i + strides[ax]!] !== 0;
          if (a === b) continue;
          const p = crop.world(z, y, x);
          p[ax]! += vs[ax]! / 2;
          const r = Math.hypot(p[0] - m.centroid[0], p[1] - m.centroid[1], p[2] - m.centroid[2]);
          if (r > ENVELOPE_PATCH) continue;
          pts.push(p[0], p[1], p[2]);
          outward[ax]! += a ? 1 : -1;
        }
      }
    }
  }
  if (pts.length < 3 * 20) return { normal: poreAxis(m), source: "pore" };
  const n = symmetricEigen(pointMoments(pts).covariance).vectors[0];
  return { normal: dot(n, outward) < 0 ? [-n[0], -n[1], -n[2]] : n, source: "nucleus" };
}

/** A pore's thinnest principal axis: a pore (disc or ring in the envelope) is flattest along the normal. */
function poreAxis(m: InstanceMoments): Vec3 {
  return symmetricEigen(m.covariance).vectors[0];
}

export function summarizePores(rows: readonly PoreRow[], ksSd: number): PoresSummary {
  const d = rows.map((r) => r.diameter).filter((v) => !Number.isNaN(v));
  const sorted = [...d].sort((a, b) => a - b);
  const med = median(d);
  const mean = d.reduce((a, b) => a + b, 0) / Math.max(1, d.length);
  return {
    count: rows.length,
    measured: d.length,
    median: med,
    mean: d.length ? mean : Number.NaN,
    sd: sdOf(d),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    shapiro: d.length >= 3 ? shapiroWilk(d) : undefined,
    ks: d.length >= 1 ? { ...ksTestNormal(d, med, ksSd), mean: med, sd: ksSd } : undefined,
  };
}

function sdOf(v: readonly number[]): number {
  if (v.length < 2) return Number.NaN;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

const fmt = (v: number) => (Number.isNaN(v) ? "" : Number.isInteger(v) ? String(v) : v.toFixed(3));

export function poresCsv(rows: readonly PoreRow[]): string {
  const lines = [PORE_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [
        fmt(r.id),
        fmt(r.diameter),
        fmt(r.measurements),
        fmt(r.radialSd),
        fmt(r.centroid[2]),
        fmt(r.centroid[1]),
        fmt(r.centroid[0]),
        r.normal[2].toFixed(4),
        r.normal[1].toFixed(4),
        r.normal[0].toFixed(4),
        r.normalSource,
        fmt(r.voxels),
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

function poresSummaryCsv(s: PoresSummary): string {
  const g = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "" : String(v));
  const rows: [string, string][] = [
    ["pores", g(s.count)],
    ["measured", g(s.measured)],
    ["median diameter (nm)", g(s.median)],
    ["mean diameter (nm)", g(s.mean)],
    ["sd (nm)", g(s.sd)],
    ["10th percentile (nm)", g(s.p10)],
    ["90th percentile (nm)", g(s.p90)],
    ["min (nm)", g(s.min)],
    ["max (nm)", g(s.max)],
    ["Shapiro-Wilk W", g(s.shapiro?.statistic)],
    ["Shapiro-Wilk p", g(s.shapiro?.pValue)],
    ["KS reference mean (nm)", g(s.ks?.mean)],
    ["KS reference sd (nm)", g(s.ks?.sd)],
    ["KS D", g(s.ks?.statistic)],
    ["KS p", g(s.ks?.pValue)],
  ];
  return `statistic,value\n${rows.map((r) => r.join(",")).join("\n")}\n`;
}

/** Opens `name` (or `fallback` when name is undefined and it exists); null: none. */
export async function openOptional(
  datasetPath: string,
  name: string | null | undefined,
  fallback: string,
): Promise<Volume | undefined> {
  if (name === null) return undefined;
  try {
    return await Volume.open(datasetPath, name ?? fallback);
  } catch (e) {
    if (name === undefined && isOrganelleError(e, "NotFound")) return undefined;
    throw e;
  }
}

export function sameGrid(a: Volume, b: Volume): void {
  const same = (p: readonly number[], q: readonly number[]) => p.every((v, d) => Math.abs(v - q[d]!) < 1e-9);
  if (
    !same(a.meta.voxelSize, b.meta.voxelSize) ||
    !same(a.meta.offset, b.meta.offset) ||
    !same(a.meta.shape, b.meta.shape)
  ) {
    throw invalidArgument(
      `${a.describe()} (voxel size ${a.meta.voxelSize.join(",")} nm, offset ${a.meta.offset.join(",")} nm, shape ${a.meta.shape.join(",")}) is not on the grid of ${b.describe()} (${b.meta.voxelSize.join(",")} nm, ${b.meta.offset.join(",")} nm, ${b.meta.shape.join(",")}); give arrays of the same scale level`,
    );
  }
}
