import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { migrate } from "./schema.ts";

/*
 * The embedded catalogue: one SQLite file (WAL, so the server reads while a CLI verb writes) per
 * served directory, DIR/organelle-catalog.sqlite. It indexes what lives on disk — datasets, training
 * runs, models, result tables — and holds what exists nowhere else: saved views and job records.
 *
 * Datasets are named by their path relative to the catalogue's directory ("cells/hela-1.zarr").
 * Every method taking a `dataset` accepts that id or an absolute path to the container.
 */

export const CATALOG_FILE = "organelle-catalog.sqlite";

export type Cell = string | number | null;

export interface TableInput {
  /** The dataset container: its id or an absolute path. */
  readonly dataset: string;
  /** Table name, unique per dataset (e.g. "mito", "contacts_mito_er"). */
  readonly name: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** The CSV written next to it (absolute, or relative to the catalogue's directory). */
  readonly csvPath?: string;
  /** The label array whose instances the rows describe (first column = instance id), e.g. "segmentations/mito". */
  readonly array?: string;
}

export interface TableSummary {
  readonly dataset: string;
  readonly name: string;
  readonly columns: string[];
  readonly rows: number;
  readonly array: string | null;
  /** Relative to the catalogue's directory. */
  readonly csvPath: string | null;
  readonly updated: string;
}

export interface TableData {
  readonly columns: string[];
  readonly rows: Cell[][];
}

export interface IndexedRecord<T> {
  readonly id: string;
  readonly name: string;
  readonly signature: string;
  readonly summary: T;
  readonly updated: string;
}

export type JobState = "queued" | "running" | "done" | "failed";

export interface JobProgress {
  readonly done: number;
  readonly total: number;
  readonly rate?: number;
  readonly etaSeconds?: number;
  readonly label?: string;
}

export interface JobRecord {
  readonly id: string;
  readonly verb: string;
  readonly args: string[];
  readonly state: JobState;
  readonly progress: JobProgress | null;
  readonly log: string;
  readonly exitCode: number | null;
  readonly created: string;
  readonly started: string | null;
  readonly finished: string | null;
}

interface TableRow {
  id: number;
  dataset: string;
  name: string;
  array_path: string | null;
  columns: string;
  row_count: number;
  csv_path: string | null;
  csv_signature: string | null;
  updated: string;
}

interface JobRow {
  id: string;
  verb: string;
  args: string;
  state: string;
  progress: string | null;
  log: string;
  exit_code: number | null;
  created: string;
  started: string | null;
  finished: string | null;
}

type IndexKind = "datasets" | "runs" | "models";

const now = () => new Date().toISOString();

export class Catalog {
  /** The directory the catalogue describes (ids are relative to it). */
  readonly dir: string;
  readonly file: string;
  private readonly db: Database.Database;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.dir = path.dirname(file);
    this.db = db;
  }

  /** Opens (creating if needed) the catalogue in `file` and brings its schema up to date. */
  static open(file: string): Catalog {
    const abs = path.resolve(file);
    if (!fs.existsSync(path.dirname(abs))) {
      throw invalidArgument(`${abs}: the catalogue's directory does not exist`);
    }
    let db: Database.Database;
    try {
      db = new Database(abs);
    } catch (e) {
      throw fromFsError(e, abs, "opening the catalogue");
    }
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("busy_timeout = 10000");
      db.pragma("foreign_keys = ON");
      db.pragma("synchronous = NORMAL");
      migrate(db, abs);
    } catch (e) {
      db.close();
      throw e;
    }
    return new Catalog(abs, db);
  }

  /** The catalogue of a directory: DIR/organelle-catalog.sqlite. */
  static forDir(dir: string): Catalog {
    return Catalog.open(path.join(dir, CATALOG_FILE));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** The id of a dataset given by id or absolute path; refuses paths outside the catalogue's directory. */
  datasetId(dataset: string): string {
    return this.relativeId(dataset, "dataset");
  }

  private relativeId(p: string, what: string): string {
    if (p.includes("\0")) throw invalidArgument(`${what} ${JSON.stringify(p)}: contains a NUL byte`);
    const rel = path.isAbsolute(p) ? path.relative(this.dir, p) : path.normalize(p);
    const id = rel.split(path.sep).join("/").replace(/\/+$/, "");
    if (id === "" || id === "." || id === ".." || id.startsWith("../") || path.isAbsolute(id)) {
      throw invalidArgument(`${what} ${p}: not inside the catalogue's directory ${this.dir}`);
    }
    return id;
  }

  private relativeFile(p: string): string {
    return this.relativeId(path.isAbsolute(p) ? p : path.resolve(this.dir, p), "file");
  }

  // --- indexed things: datasets, runs, models ------------------------------------------------------

  private upsert<T>(kind: IndexKind, id: string, name: string, signature: string, summary: T): void {
    const col = kind === "models" ? "info" : "summary";
    this.db
      .prepare(
        `INSERT INTO ${kind} (id, name, signature, ${col}, updated) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, signature = excluded.signature,
           ${col} = excluded.${col}, updated = excluded.updated`,
      )
      .run(id, name, signature, JSON.stringify(summary), now());
  }

  private list<T>(kind: IndexKind): IndexedRecord<T>[] {
    const col = kind === "models" ? "info" : "summary";
    const rows = this.db
      .prepare(`SELECT id, name, signature, ${col} AS summary, updated FROM ${kind} ORDER BY id`)
      .all() as { id: string; name: string; signature: string; summary: string; updated: string }[];
    return rows.map((r) => ({ ...r, summary: JSON.parse(r.summary) as T }));
  }

  private get<T>(kind: IndexKind, id: string): IndexedRecord<T> | undefined {
    const col = kind === "models" ? "info" : "summary";
    const r = this.db
      .prepare(`SELECT id, name, signature, ${col} AS summary, updated FROM ${kind} WHERE id = ?`)
      .get(id) as
      | { id: string; name: string; signature: string; summary: string; updated: string }
      | undefined;
    return r && { ...r, summary: JSON.parse(r.summary) as T };
  }

  private remove(kind: IndexKind, id: string): void {
    this.db.prepare(`DELETE FROM ${kind} WHERE id = ?`).run(id);
  }

  upsertDataset<T>(dataset: string, summary: T, signature = "", name?: string): void {
    const id = this.datasetId(dataset);
    this.upsert(
      "datasets",
      id,
      name ?? path.posix.basename(id).replace(/\.(zarr|n5)$/, ""),
      signature,
      summary,
    );
  }
  listDatasets<T = Record<string, unknown>>(): IndexedRecord<T>[] {
    return this.list<T>("datasets");
  }
  getDataset<T = Record<string, unknown>>(dataset: string): IndexedRecord<T> | undefined {
    return this.get<T>("datasets", this.datasetId(dataset));
  }
  removeDataset(dataset: string): void {
    const id = this.datasetId(dataset);
    this.db.transaction(() => {
      this.remove("datasets", id);
      this.db.prepare("DELETE FROM result_tables WHERE dataset = ?").run(id);
    })();
  }

  /** A training run (its directory, id or absolute path) with what the server lists about it. */
  recordRun<T>(run: string, summary: T, signature = ""): void {
    const id = this.relativeId(run, "run");
    this.upsert("runs", id, path.posix.basename(id), signature, summary);
  }
  listRuns<T = Record<string, unknown>>(): IndexedRecord<T>[] {
    return this.list<T>("runs");
  }
  getRun<T = Record<string, unknown>>(run: string): IndexedRecord<T> | undefined {
    return this.get<T>("runs", this.relativeId(run, "run"));
  }
  removeRun(run: string): void {
    this.remove("runs", this.relativeId(run, "run"));
  }

  /** A model package (its directory or model.json, id or absolute path). */
  recordModel<T>(model: string, info: T, signature = "", name?: string): void {
    const id = this.relativeId(model, "model");
    this.upsert("models", id, name ?? path.posix.basename(id), signature, info);
  }
  listModels<T = Record<string, unknown>>(): IndexedRecord<T>[] {
    return this.list<T>("models");
  }
  removeModel(model: string): void {
    this.remove("models", this.relativeId(model, "model"));
  }

  // --- result tables ---------------------------------------------------------------------------------

  /**
   * Stores a table (replacing one of the same dataset and name) in one transaction, so readers see
   * the old rows or the new ones, never a mix.
   */
  recordTable(t: TableInput, csvSignature?: string): TableSummary {
    const dataset = this.datasetId(t.dataset);
    if (!/^[\w.+-][\w.+ -]*$/.test(t.name)) {
      throw invalidArgument(`table name ${JSON.stringify(t.name)}: use letters, digits, '_', '-', '.', '+'`);
    }
    const width = t.columns.length;
    for (const [i, r] of t.rows.entries()) {
      if (r.length !== width) {
        throw invalidArgument(`table ${t.name}: row ${i + 1} has ${r.length} values for ${width} columns`);
      }
    }
    const csv = t.csvPath ? this.relativeFile(t.csvPath) : null;
    const sig = csvSignature ?? (csv ? fileSignature(path.join(this.dir, csv)) : null);
    const updated = now();
    const insertRow = this.db.prepare(
      "INSERT INTO result_rows (table_id, row_index, object_id, cells) VALUES (?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM result_tables WHERE dataset = ? AND name = ?").run(dataset, t.name);
      const info = this.db
        .prepare(
          `INSERT INTO result_tables (dataset, name, array_path, columns, row_count, csv_path, csv_signature, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(dataset, t.name, t.array ?? null, JSON.stringify(t.columns), t.rows.length, csv, sig, updated);
      const tableId = Number(info.lastInsertRowid);
      for (const [i, r] of t.rows.entries()) {
        const first = r[0];
        const objectId = typeof first === "number" && Number.isSafeInteger(first) ? first : null;
        insertRow.run(tableId, i, objectId, JSON.stringify(r));
      }
    })();
    return {
      dataset,
      name: t.name,
      columns: [...t.columns],
      rows: t.rows.length,
      array: t.array ?? null,
      csvPath: csv,
      updated,
    };
  }

  listTables(dataset?: string): TableSummary[] {
    const rows = (
      dataset === undefined
        ? this.db.prepare("SELECT * FROM result_tables ORDER BY dataset, name").all()
        : this.db
            .prepare("SELECT * FROM result_tables WHERE dataset = ? ORDER BY name")
            .all(this.datasetId(dataset))
    ) as TableRow[];
    return rows.map(tableSummary);
  }

  /** The CSV signature recorded for a table (the scanner re-reads a CSV only when it changed). */
  tableCsvSignature(dataset: string, name: string): string | null | undefined {
    const r = this.db
      .prepare("SELECT csv_signature FROM result_tables WHERE dataset = ? AND name = ?")
      .get(this.datasetId(dataset), name) as { csv_signature: string | null } | undefined;
    return r ? r.csv_signature : undefined;
  }

  getTable(dataset: string, name: string): TableData | undefined {
    const t = this.tableRow(dataset, name);
    if (!t) return undefined;
    const rows = this.db
      .prepare("SELECT cells FROM result_rows WHERE table_id = ? ORDER BY row_index")
      .all(t.id) as { cells: string }[];
    return {
      columns: JSON.parse(t.columns) as string[],
      rows: rows.map((r) => JSON.parse(r.cells) as Cell[]),
    };
  }

  /** The row of `table` whose first column (the instance id) is `id`, as {column: value}. */
  findRow(dataset: string, table: string, id: number): Record<string, Cell> | undefined {
    const t = this.tableRow(dataset, table);
    if (!t) return undefined;
    const r = this.db
      .prepare("SELECT cells FROM result_rows WHERE table_id = ? AND object_id = ? LIMIT 1")
      .get(t.id, id) as { cells: string } | undefined;
    if (!r) return undefined;
    const columns = JSON.parse(t.columns) as string[];
    const cells = JSON.parse(r.cells) as Cell[];
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? null]));
  }

  /** The table describing the instances of `array`: one recorded for it, else the one named after it. */
  tableForArray(dataset: string, array: string): TableSummary | undefined {
    const id = this.datasetId(dataset);
    const r = (this.db
      .prepare(
        "SELECT * FROM result_tables WHERE dataset = ? AND array_path = ? ORDER BY updated DESC LIMIT 1",
      )
      .get(id, array) ??
      this.db
        .prepare("SELECT * FROM result_tables WHERE dataset = ? AND name = ?")
        .get(id, path.posix.basename(array))) as TableRow | undefined;
    return r && tableSummary(r);
  }

  removeTable(dataset: string, name: string): void {
    this.db
      .prepare("DELETE FROM result_tables WHERE dataset = ? AND name = ?")
      .run(this.datasetId(dataset), name);
  }

  private tableRow(dataset: string, name: string): TableRow | undefined {
    return this.db
      .prepare("SELECT * FROM result_tables WHERE dataset = ? AND name = ?")
      .get(this.datasetId(dataset), name) as TableRow | undefined;
  }

  // --- views ---------------------------------------------------------------------------------------

  saveView<V extends { name: string }>(dataset: string, view: V): void {
    if (typeof view.name !== "string" || !view.name.trim())
      throw invalidArgument("view: needs a non-empty name");
    this.db
      .prepare(
        `INSERT INTO views (dataset, name, view, updated) VALUES (?, ?, ?, ?)
         ON CONFLICT(dataset, name) DO UPDATE SET view = excluded.view, updated = excluded.updated`,
      )
      .run(this.datasetId(dataset), view.name, JSON.stringify(view), now());
  }

  listViews<V = Record<string, unknown>>(dataset: string): V[] {
    const rows = this.db
      .prepare("SELECT view FROM views WHERE dataset = ? ORDER BY name")
      .all(this.datasetId(dataset)) as { view: string }[];
    return rows.map((r) => JSON.parse(r.view) as V);
  }

  // --- jobs ----------------------------------------------------------------------------------------

  createJob(id: string, verb: string, args: readonly string[]): JobRecord {
    this.db
      .prepare("INSERT INTO jobs (id, verb, args, state, log, created) VALUES (?, ?, ?, 'queued', '', ?)")
      .run(id, verb, JSON.stringify(args), now());
    return this.getJob(id)!;
  }

  updateJob(
    id: string,
    patch: Partial<Pick<JobRecord, "state" | "progress" | "log" | "exitCode" | "started" | "finished">>,
  ): void {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    const set = (col: string, v: string | number | null) => {
      sets.push(`${col} = ?`);
      values.push(v);
    };
    if (patch.state !== undefined) set("state", patch.state);
    if (patch.progress !== undefined)
      set("progress", patch.progress === null ? null : JSON.stringify(patch.progress));
    if (patch.log !== undefined) set("log", patch.log);
    if (patch.exitCode !== undefined) set("exit_code", patch.exitCode);
    if (patch.started !== undefined) set("started", patch.started);
    if (patch.finished !== undefined) set("finished", patch.finished);
    if (!sets.length) return;
    this.db.prepare(`UPDATE jobs SET ${sets.join(", ")} WHERE id = ?`).run(...values, id);
  }

  getJob(id: string): JobRecord | undefined {
    const r = this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined;
    return r && jobRecord(r);
  }

  /** Newest first. */
  listJobs(limit = 200): JobRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM jobs ORDER BY created DESC, id DESC LIMIT ?")
      .all(limit) as JobRow[];
    return rows.map(jobRecord);
  }

  /** Jobs a previous server left queued or running can never finish: mark them failed. */
  failUnfinishedJobs(reason: string): number {
    const r = this.db
      .prepare(
        "UPDATE jobs SET state = 'failed', finished = ?, log = log || ? WHERE state IN ('queued', 'running')",
      )
      .run(now(), `\n${reason}`);
    return r.changes;
  }
}

function tableSummary(r: TableRow): TableSummary {
  return {
    dataset: r.dataset,
    name: r.name,
    columns: JSON.parse(r.columns) as string[],
    rows: r.row_count,
    array: r.array_path,
    csvPath: r.csv_path,
    updated: r.updated,
  };
}

function jobRecord(r: JobRow): JobRecord {
  return {
    id: r.id,
    verb: r.verb,
    args: JSON.parse(r.args) as string[],
    state: r.state as JobState,
    progress: r.progress ? (JSON.parse(r.progress) as JobProgress) : null,
    log: r.log,
    exitCode: r.exit_code,
    created: r.created,
    started: r.started,
    finished: r.finished,
  };
}

/** "size:mtimeMs" of a file, or null when it does not exist. */
export function fileSignature(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${Math.round(st.mtimeMs)}`;
  } catch {
    return null;
  }
}
