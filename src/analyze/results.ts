import * as fs from "node:fs";
import * as path from "node:path";
import { CATALOG_FILE, Catalog, type Cell } from "../catalog/catalog.ts";
import { parseCsv } from "../catalog/csv.ts";
import { fromFsError } from "../core/errors.ts";
import { type ClassSummary, writeFileAtomic } from "./measure.ts";

/*
 * Result tables of the analysis verbs: the CSV in `<dataset>/tables/` is the primary output; each table
 * is also recorded in the embedded catalogue (src/catalog, SQLite) that `organelle serve` queries. The
 * catalogue lives next to the served directory: the nearest `organelle-catalog.sqlite` in the dataset's
 * parent directories (up to three levels, the depth the server scans), else a new one in the
 * dataset's parent directory. A catalogue that cannot be written (read-only directory, locked file) is
 * reported as a warning and does not fail the verb: the server's scanner reads the CSV files too.
 */

export type ResultCell = Cell;

export interface RecordOutcome {
  /** The catalogue file written, when it worked. */
  readonly catalog?: string;
  /** Why the table is only in the CSV. */
  readonly warning?: string;
}

/** The catalogue's directory for a dataset: the nearest one holding a catalogue, else the parent. */
export function catalogDirFor(datasetPath: string): string {
  const parent = path.dirname(path.resolve(datasetPath));
  let dir = parent;
  for (let up = 0; up < 3; up++) {
    if (fs.existsSync(path.join(dir, CATALOG_FILE))) return dir;
    const next = path.dirname(dir);
    if (next === dir) break;
    dir = next;
  }
  return parent;
}

/**
 * Records a table (already written as CSV at `csvPath`) in the dataset's catalogue. `name` is unique per
 * dataset (e.g. "mito", "contacts_mito_er", "skeleton_mito"); the first column should be the instance
 * id of `array` when given (the server's segment look-up reads it). Never throws for catalogue
 * problems: they come back as `warning` (and are printed on stderr unless `quiet`).
 */
export async function recordResultTable(
  datasetPath: string,
  name: string,
  columns: readonly string[],
  rows: readonly (readonly ResultCell[])[],
  csvPath: string,
  opts: { array?: string; quiet?: boolean } = {},
): Promise<RecordOutcome> {
  const dir = catalogDirFor(datasetPath);
  try {
    const catalog = Catalog.forDir(dir);
    try {
      catalog.recordTable({
        dataset: path.resolve(datasetPath),
        name,
        columns,
        rows,
        csvPath: path.resolve(csvPath),
        ...(opts.array ? { array: opts.array } : {}),
      });
    } finally {
      catalog.close();
    }
    return { catalog: path.join(dir, CATALOG_FILE) };
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    const warning = `table ${name} is in ${csvPath} but not in the catalogue ${path.join(dir, CATALOG_FILE)}: ${why}`;
    if (!opts.quiet) process.stderr.write(`organelle: warning: ${warning}\n`);
    return { warning };
  }
}

/** Reads a CSV table written by a verb and records it (values exactly as in the file). */
export async function recordCsvTable(
  datasetPath: string,
  name: string,
  csvPath: string,
  opts: { array?: string; quiet?: boolean } = {},
): Promise<RecordOutcome> {
  let text: string;
  try {
    text = await fs.promises.readFile(csvPath, "utf8");
  } catch (e) {
    throw fromFsError(e, csvPath, "reading a result table");
  }
  const t = parseCsv(text, csvPath);
  return recordResultTable(datasetPath, name, t.columns, t.rows, csvPath, opts);
}

const quote = (v: ResultCell): string => {
  if (v === null) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
};

/** RFC 4180 CSV text (header line, quoted fields where needed, empty for null/NaN). */
export function csvText(columns: readonly string[], rows: readonly (readonly ResultCell[])[]): string {
  return `${[columns, ...rows].map((r) => r.map(quote).join(",")).join("\n")}\n`;
}

/**
 * Writes `<dataset>/tables/<name>.csv` (atomically; or `csvPath`) and records the table in the
 * catalogue: the one call a verb needs for a new table.
 */
export async function writeResultTable(
  datasetPath: string,
  name: string,
  columns: readonly string[],
  rows: readonly (readonly ResultCell[])[],
  opts: { csvPath?: string; array?: string; quiet?: boolean } = {},
): Promise<RecordOutcome & { csvPath: string }> {
  const csvPath = opts.csvPath ?? path.join(path.resolve(datasetPath), "tables", `${name}.csv`);
  await writeFileAtomic(csvPath, csvText(columns, rows));
  const r = await recordResultTable(datasetPath, name, columns, rows, csvPath, opts);
  return { ...r, csvPath };
}

/** The per-class table of a dataset: one row per measured array, updated by `organelle measure`. */
export const CLASSES_TABLE = "classes";
export const CLASS_COLUMNS = [
  "Array",
  "Organelle",
  "Count",
  "Total Volume (nm^3)",
  "Cell Volume (nm^3)",
  "Cell Fraction",
  "Median Volume (nm^3)",
  "Mean Volume (nm^3)",
  "Table",
] as const;

/** Replaces the row of `arrayPath` in `<dataset>/tables/classes.csv` (rows sorted by array) and records it. */
export async function updateClassSummary(
  datasetPath: string,
  arrayPath: string,
  summary: ClassSummary,
  table: string,
  opts: { quiet?: boolean } = {},
): Promise<RecordOutcome & { csvPath: string }> {
  const csvPath = path.join(path.resolve(datasetPath), "tables", `${CLASSES_TABLE}.csv`);
  let rows: ResultCell[][] = [];
  if (fs.existsSync(csvPath)) {
    const old = parseCsv(await fs.promises.readFile(csvPath, "utf8"), csvPath);
    // A table of other columns (an older layout) is rewritten from this measurement on.
    if (old.columns.join(",") === CLASS_COLUMNS.join(",")) rows = old.rows.filter((r) => r[0] !== arrayPath);
  }
  const organelle = arrayPath.split("/").filter(Boolean).pop() ?? arrayPath;
  const round = (v: number | undefined) =>
    v === undefined || !Number.isFinite(v) ? null : Number(v.toPrecision(10));
  rows.push([
    arrayPath,
    organelle,
    summary.count,
    round(summary.totalVolume),
    round(summary.cellVolume),
    round(summary.cellFraction),
    round(summary.volumeQuantiles[3]),
    round(summary.count > 0 ? summary.totalVolume / summary.count : undefined),
    table,
  ]);
  rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return writeResultTable(datasetPath, CLASSES_TABLE, CLASS_COLUMNS, rows, { csvPath, ...opts });
}
