import * as fs from "node:fs";
import * as path from "node:path";
import type { Cell } from "../catalog/catalog.ts";
import { parseCsv } from "../catalog/csv.ts";
import { type DatasetDetail, organelleColor, summarizeDataset } from "../catalog/dataset-summary.ts";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { quantile, writeFileAtomic } from "./measure.ts";
import { barChartSvg, escapeXml, histogramSvg } from "./report-svg.ts";
import { CLASSES_TABLE } from "./results.ts";

/*
 * `organelle report DATASET... --out report.html`: one self-contained HTML page (inline CSS, inline SVG
 * plots) of the result tables in each dataset's `tables/` directory, datasets side by side in columns:
 * dataset metadata; per organelle class the count, total volume, fraction of the cell and median size
 * (tables/classes.csv from `organelle measure`, else the measure tables alone, without fractions);
 * size histograms per class (log volume and surface area); volume fractions and counts as bar charts;
 * contact sites per pair of classes (count, areas); and every other table (skeleton lengths,
 * planarity, pores, pits, evaluations): small tables in full, larger ones as per-column statistics
 * with histograms of lengths, diameters, depths and planarity.
 */

export interface ResultTable {
  readonly name: string;
  readonly file: string;
  readonly columns: string[];
  readonly rows: Cell[][];
}

export interface DatasetResults {
  readonly path: string;
  readonly detail: DatasetDetail;
  readonly tables: ResultTable[];
}

export interface ReportOptions {
  out: string;
  title?: string;
}

export interface ReportResult {
  readonly out: string;
  readonly datasets: number;
  readonly tables: number;
  readonly bytes: number;
}

/** Reads a dataset's metadata and every `tables/*.csv`. */
export async function loadDatasetResults(datasetPath: string): Promise<DatasetResults> {
  const abs = path.resolve(datasetPath);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(abs);
  } catch (e) {
    throw fromFsError(e, abs, "reading the dataset");
  }
  if (!stat.isDirectory())
    throw invalidArgument(`${datasetPath}: not a dataset container (a directory such as cell.zarr)`);
  const detail = await summarizeDataset(abs, path.basename(abs));
  const dir = path.join(abs, "tables");
  const names = fs.existsSync(dir)
    ? (await fs.promises.readdir(dir)).filter((f) => f.endsWith(".csv") && !f.startsWith(".")).sort()
    : [];
  const tables: ResultTable[] = [];
  for (const f of names) {
    const file = path.join(dir, f);
    const t = parseCsv(await fs.promises.readFile(file, "utf8"), file);
    tables.push({ name: f.slice(0, -4), file, columns: t.columns, rows: t.rows });
  }
  return { path: abs, detail, tables };
}

const isMeasure = (t: ResultTable) => t.columns[0] === "Object ID" && t.columns.includes("Volume (nm^3)");
const isContacts = (t: ResultTable) => t.columns.includes("Contact ID") && t.columns.includes("Area (nm^2)");
const isClasses = (t: ResultTable) => t.name === CLASSES_TABLE && t.columns[0] === "Array";
const INTERESTING = /length|planar|diameter|depth|radius|width|eccentric|area|volume|distance/i;

function column(t: ResultTable, name: string): number[] {
  const i = t.columns.indexOf(name);
  if (i < 0) return [];
  return t.rows.map((r) => r[i]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
}

const DATASET_COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#17becf",
  "#8c564b",
  "#e377c2",
];
const um3 = (nm3: number) => nm3 / 1e9;
const um2 = (nm2: number) => nm2 / 1e6;
const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 1e6 || (Math.abs(v) < 1e-3 && v !== 0)
      ? v.toExponential(digits - 1)
      : Number.isInteger(v)
        ? v.toLocaleString("en-US")
        : Number(v.toPrecision(digits)).toLocaleString("en-US", { maximumSignificantDigits: digits });
const pct = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : `${(100 * v).toFixed(2)} %`;
const esc = escapeXml;

interface ClassRow {
  /** Row label: the organelle, with the array's group when one dataset measured it twice. */
  readonly key: string;
  readonly organelle: string;
  readonly array: string | undefined;
  readonly count: number;
  readonly totalVolume: number;
  readonly cellFraction: number | null;
  readonly medianVolume: number | null;
  readonly table: ResultTable | undefined;
}

/** Per measured class: from classes.csv when present, else from each measure table on its own. */
function classRows(d: DatasetResults): ClassRow[] {
  const measures = new Map(d.tables.filter(isMeasure).map((t) => [t.name, t]));
  const out: ClassRow[] = [];
  const seen = new Set<string>();
  const classes = d.tables.find(isClasses);
  if (classes) {
    const c = (name: string) => classes.columns.indexOf(name);
    for (const r of classes.rows) {
      const num = (name: string) => {
        const v = r[c(name)];
        return typeof v === "number" ? v : null;
      };
      const tableName = String(r[c("Table")] ?? r[c("Organelle")] ?? "");
      const organelle = String(r[c("Organelle")] ?? tableName);
      out.push({
        key: organelle,
        organelle,
        array: r[c("Array")] === null ? undefined : String(r[c("Array")]),
        count: num("Count") ?? 0,
        totalVolume: num("Total Volume (nm^3)") ?? 0,
        cellFraction: num("Cell Fraction"),
        medianVolume: num("Median Volume (nm^3)"),
        table: measures.get(tableName),
      });
      seen.add(tableName);
    }
  }
  for (const [name, t] of measures) {
    if (seen.has(name)) continue;
    const v = column(t, "Volume (nm^3)").sort((a, b) => a - b);
    out.push({
      key: name,
      organelle: name,
      array: undefined,
      count: t.rows.length,
      totalVolume: v.reduce((a, b) => a + b, 0),
      cellFraction: null,
      medianVolume: v.length ? quantile(v, 0.5) : null,
      table: t,
    });
  }
  return out;
}

function section(title: string, body: string[]): string {
  return `<section><h2>${esc(title)}</h2>\n${body.join("\n")}\n</section>`;
}

function htmlTable(head: readonly string[], rows: readonly (readonly string[])[], cls = ""): string {
  return `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map(
      (r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join("")}</tr>`,
    )
    .join("")}</tbody></table>`;
}

function metadataSection(ds: readonly DatasetResults[]): string {
  const d = ds.map((x) => x.detail);
  const extent = (x: DatasetDetail) =>
    x.shape.length === 3 && x.voxelSize.length === 3
      ? x.shape.map((s, i) => ((s * x.voxelSize[i]!) / 1000).toFixed(2)).join(" × ")
      : "–";
  const meta = (x: DatasetDetail, k: string) => {
    const v = x.meta[k];
    return v === undefined ? "–" : typeof v === "string" ? v : JSON.stringify(v);
  };
  const rows: string[][] = [
    ["title", ...d.map((x) => x.title)],
    ["sample", ...d.map((x) => meta(x, "sample"))],
    ["cell type", ...d.map((x) => x.cellType ?? "–")],
    ["voxel size (nm, z y x)", ...d.map((x) => x.voxelSize.join(" × ") || "–")],
    ["shape (voxels, z y x)", ...d.map((x) => x.shape.join(" × ") || "–")],
    ["extent (µm, z y x)", ...d.map(extent)],
    ["size on disk", ...d.map((x) => `${(x.sizeBytes / 2 ** 20).toFixed(1)} MiB`)],
    ["arrays", ...d.map((x) => x.arrays.map((a) => a.path).join(", "))],
    [
      "result tables",
      ...ds.map((x) => x.tables.map((t) => `${t.name} (${t.rows.length})`).join(", ") || "none"),
    ],
  ];
  for (const k of ["instrument", "acquisition", "protocol", "publications"]) {
    if (d.some((x) => x.meta[k] !== undefined)) rows.push([k, ...d.map((x) => meta(x, k))]);
  }
  return section("Datasets", [htmlTable(["", ...d.map((x) => x.name)], rows, "meta")]);
}

function organelleSection(ds: readonly DatasetResults[]): string | undefined {
  // labels/mito and segmentations/mito both measured in a cell: rows "mito (labels)", "mito
  // (segmentations)" in every cell, so that the columns of several cells line up.
  const twice = new Set<string>();
  const raw = ds.map(classRows);
  for (const rows of raw) {
    const seen = new Set<string>();
    for (const r of rows) {
      if (seen.has(r.organelle)) twice.add(r.organelle);
      seen.add(r.organelle);
    }
  }
  const perDs = raw.map((rows) =>
    rows.map((r) =>
      twice.has(r.organelle) && r.array ? { ...r, key: `${r.organelle} (${r.array.split("/")[0]})` } : r,
    ),
  );
  const organelles = [...new Set(perDs.flatMap((rows) => rows.map((r) => r.key)))].sort();
  if (organelles.length === 0) return undefined;
  const find = (k: number, o: string) => perDs[k]!.find((r) => r.key === o);
  const colorKey = new Map(perDs.flat().map((r) => [r.key, organelleColor(r.organelle)]));
  const colorOfKey = (o: string) => colorKey.get(o) ?? organelleColor(o);
  const multi = ds.length > 1;
  const head = [
    "organelle",
    ...ds.flatMap((x) => {
      const p = multi ? `${x.detail.name}: ` : "";
      return [`${p}count`, `${p}total volume (µm³)`, `${p}% of cell`, `${p}median volume (µm³)`];
    }),
  ];
  const rows = organelles.map((o) => [
    o,
    ...ds.flatMap((_, k) => {
      const r = find(k, o);
      return r
        ? [
            fmt(r.count),
            fmt(um3(r.totalVolume)),
            pct(r.cellFraction),
            fmt(r.medianVolume === null ? null : um3(r.medianVolume)),
          ]
        : ["–", "–", "–", "–"];
    }),
  ]);
  const body = [htmlTable(head, rows, "classes")];
  const series = (value: (r: ClassRow) => number | null) =>
    ds.map((x, k) => ({
      name: x.detail.name,
      color: DATASET_COLORS[k % DATASET_COLORS.length]!,
      values: organelles.map((o) => {
        const r = find(k, o);
        return r ? value(r) : null;
      }),
    }));
  const fractions = series((r) => (r.cellFraction === null ? null : 100 * r.cellFraction));
  body.push('<div class="plots">');
  if (fractions.some((s) => s.values.some((v) => v !== null))) {
    body.push(
      barChartSvg({
        title: "Volume fraction of the cell",
        yLabel: "% of cell volume",
        groups: organelles,
        series: fractions,
        format: (v) => `${v.toFixed(2)} %`,
        groupColors: organelles.map(colorOfKey),
      }),
    );
  } else {
    body.push('<p class="note">No cell fractions: measure with a cell mask (masks/cell) to get them.</p>');
  }
  body.push(
    barChartSvg({
      title: "Objects per cell",
      yLabel: "count",
      groups: organelles,
      series: series((r) => r.count),
      groupColors: organelles.map(colorOfKey),
    }),
  );
  body.push("</div>");
  // Size distributions per organelle, datasets overlaid.
  for (const o of organelles) {
    const withTable = ds
      .map((x, k) => ({ x, k, t: find(k, o)?.table }))
      .filter((e): e is { x: DatasetResults; k: number; t: ResultTable } => e.t !== undefined);
    if (withTable.length === 0) continue;
    const colorOf = (k: number) => (multi ? DATASET_COLORS[k % DATASET_COLORS.length]! : colorOfKey(o));
    body.push(`<h3>${esc(o)}</h3><div class="plots">`);
    body.push(
      histogramSvg({
        title: `${o}: volume`,
        xLabel: "volume (nm³, log scale)",
        log: true,
        series: withTable.map(({ x, k, t }) => ({
          name: x.detail.name,
          color: colorOf(k),
          values: column(t, "Volume (nm^3)"),
        })),
      }),
    );
    if (withTable.some(({ t }) => t.columns.includes("Surface Area (nm^2)"))) {
      body.push(
        histogramSvg({
          title: `${o}: surface area`,
          xLabel: "surface area (nm², log scale)",
          log: true,
          series: withTable.map(({ x, k, t }) => ({
            name: x.detail.name,
            color: colorOf(k),
            values: column(t, "Surface Area (nm^2)"),
          })),
        }),
      );
    }
    body.push("</div>");
  }
  return section("Organelles", body);
}

function contactsSection(ds: readonly DatasetResults[]): string | undefined {
  const names = [...new Set(ds.flatMap((x) => x.tables.filter(isContacts).map((t) => t.name)))].sort();
  if (names.length === 0) return undefined;
  const get = (k: number, n: string) => ds[k]!.tables.find((t) => t.name === n && isContacts(t));
  const multi = ds.length > 1;
  const head = [
    "contact pair",
    ...ds.flatMap((x) => {
      const p = multi ? `${x.detail.name}: ` : "";
      return [
        `${p}contacts`,
        `${p}total area (µm²)`,
        `${p}median area (nm²)`,
        `${p}objects of A / B in contact`,
      ];
    }),
  ];
  // The A and B id columns: the " ID" columns other than "Contact ID" (which leads contacts tables
  // since the catalogue's segment look-up reads the first column; older tables start with A and B).
  const sides = (t: ResultTable) => {
    const s = t.columns.flatMap((c, i) => (/ ID$/.test(c) && c !== "Contact ID" ? [i] : []));
    return [s[0] ?? 0, s[1] ?? 1] as const;
  };
  const label = (n: string, t: ResultTable | undefined) =>
    t
      ? `${t.columns[sides(t)[0]]!.replace(/ ID$/, "")} – ${t.columns[sides(t)[1]]!.replace(/ ID$/, "")}`
      : n.replace(/^contacts_/, "");
  const labels = names.map((n) => label(n, ds.map((_, k) => get(k, n)).find(Boolean)));
  const rows = names.map((n, i) => [
    labels[i]!,
    ...ds.flatMap((_, k) => {
      const t = get(k, n);
      if (!t) return ["–", "–", "–", "–"];
      const areas = column(t, "Area (nm^2)").sort((a, b) => a - b);
      const [ia, ib] = sides(t);
      const a = new Set(t.rows.map((r) => r[ia]));
      const b = new Set(t.rows.map((r) => r[ib]));
      return [
        fmt(t.rows.length),
        fmt(um2(areas.reduce((s, v) => s + v, 0))),
        fmt(areas.length ? quantile(areas, 0.5) : null),
        `${a.size} / ${b.size}`,
      ];
    }),
  ]);
  const body = [htmlTable(head, rows, "contacts"), '<div class="plots">'];
  body.push(
    barChartSvg({
      title: "Contact sites",
      yLabel: "count",
      groups: labels,
      series: ds.map((x, k) => ({
        name: x.detail.name,
        color: DATASET_COLORS[k % DATASET_COLORS.length]!,
        values: names.map((n) => get(k, n)?.rows.length ?? null),
      })),
    }),
  );
  names.forEach((n, i) => {
    const series = ds
      .map((x, k) => ({ x, k, t: get(k, n) }))
      .filter((e) => e.t !== undefined)
      .map(({ x, k, t }) => ({
        name: x.detail.name,
        color: DATASET_COLORS[k % DATASET_COLORS.length]!,
        values: column(t!, "Area (nm^2)"),
      }));
    body.push(
      histogramSvg({
        title: `${labels[i]}: contact area`,
        xLabel: "area (nm², log scale)",
        log: true,
        series,
      }),
    );
  });
  body.push("</div>");
  return section("Contact sites", body);
}

function numericColumns(t: ResultTable): string[] {
  return t.columns.filter((_, i) => i > 0 && t.rows.some((r) => typeof r[i] === "number"));
}

function otherSection(ds: readonly DatasetResults[]): string | undefined {
  const other = (t: ResultTable) => !isMeasure(t) && !isContacts(t) && !isClasses(t);
  const names = [...new Set(ds.flatMap((x) => x.tables.filter(other).map((t) => t.name)))].sort();
  if (names.length === 0) return undefined;
  const body: string[] = [];
  for (const n of names) {
    body.push(`<h3>${esc(n)}</h3>`);
    const tables = ds.map((x) => x.tables.find((t) => t.name === n));
    const small = tables.every((t) => !t || t.rows.length <= 40);
    if (small) {
      // Evaluations, per-class summaries, statistics: shown whole, one table per dataset.
      ds.forEach((x, k) => {
        const t = tables[k];
        if (!t) return;
        if (ds.length > 1) body.push(`<p class="ds">${esc(x.detail.name)}</p>`);
        body.push(
          htmlTable(
            t.columns,
            t.rows.map((r) =>
              r.map((v) => (typeof v === "number" ? fmt(v, 4) : v === null ? "–" : String(v))),
            ),
            "full",
          ),
        );
      });
      continue;
    }
    const cols = [...new Set(tables.flatMap((t) => (t ? numericColumns(t) : [])))];
    const head = [
      "column",
      ...ds.flatMap((x) => {
        const p = ds.length > 1 ? `${x.detail.name}: ` : "";
        return [`${p}n`, `${p}mean`, `${p}median`, `${p}min`, `${p}max`];
      }),
    ];
    const rows = cols.map((c) => [
      c,
      ...ds.flatMap((_, k) => {
        const t = tables[k];
        const v = t ? column(t, c).sort((a, b) => a - b) : [];
        if (v.length === 0) return ["–", "–", "–", "–", "–"];
        return [
          fmt(v.length),
          fmt(v.reduce((a, b) => a + b, 0) / v.length),
          fmt(quantile(v, 0.5)),
          fmt(v[0]),
          fmt(v[v.length - 1]),
        ];
      }),
    ]);
    body.push(htmlTable(head, rows, "stats"));
    const plotted = cols.filter((c) => INTERESTING.test(c) && !/ID$/.test(c));
    if (plotted.length > 0) {
      body.push('<div class="plots">');
      for (const c of plotted.slice(0, 6)) {
        const values = (t: ResultTable) => column(t, c);
        const positive = tables.every((t) => !t || values(t).every((v) => v > 0));
        const spread = tables.flatMap((t) => (t ? values(t) : []));
        const log = positive && spread.length > 0 && Math.max(...spread) / Math.min(...spread) > 100;
        body.push(
          histogramSvg({
            title: `${n}: ${c}`,
            xLabel: log ? `${c}, log scale` : c,
            log,
            series: ds
              .map((x, k) => ({ x, k, t: tables[k] }))
              .filter((e) => e.t !== undefined)
              .map(({ x, k, t }) => ({
                name: x.detail.name,
                color: DATASET_COLORS[k % DATASET_COLORS.length]!,
                values: values(t!),
              })),
          }),
        );
      }
      body.push("</div>");
    }
  }
  return section("Other results (skeletons, planarity, pores, pits, evaluations, ...)", body);
}

const CSS = `body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{padding:3px 10px;border-bottom:1px solid #e5e5e5;text-align:right;vertical-align:top}
thead th{background:#f4f4f4;text-align:center}tbody th{text-align:left;font-weight:600}table.meta td{text-align:left;max-width:420px;word-break:break-word}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plot{border:1px solid #eee}.note{color:#777}.ds{font-weight:600;margin:.8em 0 0}
footer{margin-top:3em;color:#888;font-size:.85em}`;

/** The report page for already loaded datasets. */
export function renderReport(
  ds: readonly DatasetResults[],
  opts: { title?: string; generated?: string } = {},
): string {
  const title = opts.title ?? `Organelle report: ${ds.map((d) => d.detail.name).join(", ")}`;
  const sections = [metadataSection(ds), organelleSection(ds), contactsSection(ds), otherSection(ds)].filter(
    (s): s is string => s !== undefined,
  );
  if (sections.length === 1) {
    sections.push(
      section("Results", [
        '<p class="note">No result tables yet: run organelle measure (and contacts, skeleton, ...) on the dataset first.</p>',
      ]),
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><h1>${esc(title)}</h1>
${sections.join("\n")}
<footer>organelle report · ${esc(opts.generated ?? new Date().toISOString())} · ${ds.map((d) => esc(d.path)).join(" · ")}</footer>
</body></html>
`;
}

export async function runReport(datasets: readonly string[], opts: ReportOptions): Promise<ReportResult> {
  if (datasets.length === 0) throw invalidArgument("report: name at least one dataset");
  if (!opts.out.endsWith(".html"))
    throw invalidArgument(`--out ${opts.out}: expected a file name ending in .html`);
  const loaded: DatasetResults[] = [];
  for (const d of datasets) loaded.push(await loadDatasetResults(d));
  const names = loaded.map((d) => d.detail.name);
  // Same-named datasets from different directories: tell their columns apart by parent directory.
  if (new Set(names).size < names.length) {
    loaded.forEach((d, i) => {
      const detail = { ...d.detail, name: `${path.basename(path.dirname(d.path))}/${d.detail.name}` };
      loaded[i] = { ...d, detail };
    });
  }
  const html = renderReport(loaded, { title: opts.title });
  const out = path.resolve(opts.out);
  await writeFileAtomic(out, html);
  return {
    out,
    datasets: loaded.length,
    tables: loaded.reduce((s, d) => s + d.tables.length, 0),
    bytes: Buffer.byteLength(html),
  };
}
