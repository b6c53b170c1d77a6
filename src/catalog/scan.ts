import * as fs from "node:fs";
import * as path from "node:path";
import { summarizeRun } from "../learn/report.ts";
import { listCheckpoints, METRICS, RESOLVED, RUN_JSON, type RunInfo } from "../learn/run-dir.ts";
import { type Catalog, fileSignature } from "./catalog.ts";
import { parseCsv } from "./csv.ts";
import { type DatasetDetail, datasetSignature, summarizeDataset } from "./dataset-summary.ts";

/*
 * Indexes a directory into its catalogue: dataset containers (*.zarr, *.n5) with their tables/*.csv,
 * training runs (run.json or metrics.jsonl) and model packages (model.json), up to `depth` levels
 * below the directory. Idempotent and cheap to repeat: an entry is re-read only when its fingerprint
 * (mtimes of metadata files) changed, and entries gone from disk are dropped.
 */

export interface ScanOptions {
  /** Directory levels searched below the catalogue's directory (default 3). */
  readonly depth?: number;
}

export interface ScanResult {
  readonly datasets: number;
  readonly runs: number;
  readonly models: number;
  readonly tables: number;
  /** Entries (re-)read in this scan: 0 when nothing changed. */
  readonly updated: number;
  readonly removed: number;
  /** Entries that could not be read, with why (they are skipped, the scan goes on). */
  readonly errors: string[];
}

export interface RunSummaryRecord {
  readonly id: string;
  readonly name: string;
  readonly organelle: string | null;
  readonly datasets: string[];
  readonly steps: number;
  readonly lastStep: number;
  readonly bestStep: number | null;
  readonly bestF1: number | null;
  readonly checkpoints: number[];
  /** ISO time of the last metrics.jsonl write. */
  readonly updated: string;
  readonly metricsMtimeMs: number;
}

export interface ModelRecord {
  readonly id: string;
  readonly name: string;
  readonly organelle: string | null;
  readonly voxelSize: number[] | null;
  readonly preset: string | null;
  /** "package": a model.json directory; "run": a training run with checkpoints. */
  readonly source: "package" | "run";
  readonly path: string;
}

const SKIP_DIRS = new Set(["node_modules", ".git", "dist"]);

type Found = { kind: "dataset" | "run" | "model"; abs: string };

function find(dir: string, depth: number): Found[] {
  const out: Found[] = [];
  const visit = (d: string, level: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      // Symbolic links are not followed: the catalogue describes what lives inside DIR.
      if (!e.isDirectory() || e.name.startsWith(".") || SKIP_DIRS.has(e.name)) continue;
      const p = path.join(d, e.name);
      if (/\.(zarr|n5)$/.test(e.name)) {
        out.push({ kind: "dataset", abs: p });
        continue;
      }
      if (fs.existsSync(path.join(p, RUN_JSON)) || fs.existsSync(path.join(p, METRICS))) {
        out.push({ kind: "run", abs: p });
        continue;
      }
      if (fs.existsSync(path.join(p, "model.json"))) {
        out.push({ kind: "model", abs: p });
        continue;
      }
      if (level < depth) visit(p, level + 1);
    }
  };
  visit(dir, 1);
  return out;
}

export async function scanDirectory(catalog: Catalog, opts: ScanOptions = {}): Promise<ScanResult> {
  const found = find(catalog.dir, opts.depth ?? 3);
  const errors: string[] = [];
  let updated = 0;
  let removed = 0;
  let tables = 0;
  const seen = { dataset: new Set<string>(), run: new Set<string>(), model: new Set<string>() };
  const rel = (abs: string) => path.relative(catalog.dir, abs).split(path.sep).join("/");

  for (const f of found) {
    const id = rel(f.abs);
    seen[f.kind].add(id);
    try {
      if (f.kind === "dataset") {
        const sig = await datasetSignature(f.abs);
        if (catalog.getDataset(id)?.signature !== sig) {
          const summary: DatasetDetail = await summarizeDataset(f.abs, id);
          catalog.upsertDataset(id, summary, sig, summary.name);
          updated++;
        }
        const t = scanTables(catalog, f.abs, id, errors);
        tables += t.tables;
        updated += t.updated;
        removed += t.removed;
      } else if (f.kind === "run") {
        const sig = runSignature(f.abs);
        if (catalog.getRun(id)?.signature !== sig) {
          catalog.recordRun(id, summarizeRunDir(f.abs, id), sig);
          updated++;
        }
        if (listCheckpoints(f.abs).length) seen.model.add(id);
      } else {
        const sig = fileSignature(path.join(f.abs, "model.json")) ?? "";
        if (catalog.listModels().find((m) => m.id === id)?.signature === sig) continue;
        const info = readModelPackage(f.abs, id, errors);
        if (info) {
          catalog.recordModel(id, info, sig, info.name);
          updated++;
        }
      }
    } catch (e) {
      errors.push(`${id}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  // Training runs with checkpoints are models too (`organelle predict RUN_DIR` takes them).
  for (const r of catalog.listRuns<RunSummaryRecord>()) {
    if (!seen.model.has(r.id) || !seen.run.has(r.id)) continue;
    const info: ModelRecord = {
      id: r.id,
      name: r.name,
      organelle: r.summary.organelle,
      voxelSize: runVoxelSize(path.join(catalog.dir, r.id)),
      preset: runPreset(path.join(catalog.dir, r.id)),
      source: "run",
      path: r.id,
    };
    catalog.recordModel(r.id, info, r.signature, r.name);
  }
  for (const d of catalog.listDatasets()) {
    if (!seen.dataset.has(d.id)) {
      catalog.removeDataset(d.id);
      removed++;
    }
  }
  for (const r of catalog.listRuns()) {
    if (!seen.run.has(r.id)) {
      catalog.removeRun(r.id);
      removed++;
    }
  }
  for (const m of catalog.listModels()) {
    if (!seen.model.has(m.id)) {
      catalog.removeModel(m.id);
      removed++;
    }
  }
  return {
    datasets: seen.dataset.size,
    runs: seen.run.size,
    models: seen.model.size,
    tables,
    updated,
    removed,
    errors,
  };
}

/** tables/*.csv of a dataset: (re-)read the changed ones, drop tables whose CSV is gone. */
function scanTables(catalog: Catalog, abs: string, id: string, errors: string[]) {
  const dir = path.join(abs, "tables");
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(".csv"));
  } catch {
    // no tables directory
  }
  let updated = 0;
  let removed = 0;
  const present = new Set<string>();
  for (const n of names.sort()) {
    const name = n.slice(0, -4);
    const file = path.join(dir, n);
    present.add(name);
    const sig = fileSignature(file);
    if (sig === null || catalog.tableCsvSignature(id, name) === sig) continue;
    try {
      const csv = parseCsv(fs.readFileSync(file, "utf8"), file);
      catalog.recordTable({ dataset: id, name, columns: csv.columns, rows: csv.rows, csvPath: file }, sig);
      updated++;
    } catch (e) {
      errors.push(`${id}/tables/${n}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  for (const t of catalog.listTables(id)) {
    if (t.csvPath && !present.has(t.name) && !fs.existsSync(path.join(catalog.dir, t.csvPath))) {
      catalog.removeTable(id, t.name);
      removed++;
    }
  }
  return { tables: present.size, updated, removed };
}

function runSignature(runDir: string): string {
  return [
    fileSignature(path.join(runDir, METRICS)),
    fileSignature(path.join(runDir, RUN_JSON)),
    listCheckpoints(runDir).join(","),
  ].join("|");
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function runVoxelSize(runDir: string): number[] | null {
  const info = readJson(path.join(runDir, RUN_JSON)) as Partial<RunInfo> | undefined;
  return info?.voxelSize ? [...info.voxelSize] : null;
}

function runPreset(runDir: string): string | null {
  const info = readJson(path.join(runDir, RUN_JSON)) as Partial<RunInfo> | undefined;
  return info?.model?.preset ?? null;
}

export function summarizeRunDir(runDir: string, id: string): RunSummaryRecord {
  const s = summarizeRun(runDir, 0.05);
  const resolved = readJson(path.join(runDir, RESOLVED)) as { sources?: { dataset?: string }[] } | undefined;
  const datasets = [
    ...new Set((resolved?.sources ?? []).map((x) => String(x.dataset ?? "")).filter(Boolean)),
  ];
  const bestStep = s.choice.best?.step ?? null;
  const bestF1 = s.choice.best?.f1 ?? null;
  const mtime = fs.statSync(path.join(runDir, METRICS), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return {
    id,
    name: path.basename(runDir),
    organelle: s.info?.organelle ?? null,
    datasets,
    steps: s.steps,
    lastStep: s.steps,
    bestStep,
    bestF1,
    checkpoints: listCheckpoints(runDir),
    updated: new Date(mtime).toISOString(),
    metricsMtimeMs: mtime,
  };
}

function readModelPackage(dir: string, id: string, errors: string[]): ModelRecord | undefined {
  const m = readJson(path.join(dir, "model.json")) as
    | { format?: string; name?: string; organelle?: string; voxelSize?: number[]; preset?: string }
    | undefined;
  if (m?.format !== "organelle-model") {
    errors.push(`${id}/model.json: not an organelle model package (format "organelle-model")`);
    return undefined;
  }
  return {
    id,
    name: m.name ?? path.basename(dir),
    organelle: m.organelle ?? null,
    voxelSize: Array.isArray(m.voxelSize) ? m.voxelSize.map(Number) : null,
    preset: m.preset ?? null,
    source: "package",
    path: id,
  };
}
