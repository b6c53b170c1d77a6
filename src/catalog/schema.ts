import type Database from "better-sqlite3";
import { invalidData } from "../core/errors.ts";

/*
 * The catalogue's schema as numbered migrations. `schema_version` holds the highest applied one; a
 * catalogue written by a newer organelle (a higher version than we know) is refused rather than
 * guessed at. Add a migration at the end; never edit one that shipped.
 */

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE datasets (
    id TEXT PRIMARY KEY,            -- path relative to the catalogue's directory, "/"-separated
    name TEXT NOT NULL,
    signature TEXT NOT NULL,        -- mtimes of the metadata, to skip unchanged containers on re-scan
    summary TEXT NOT NULL,          -- JSON: what the server lists (shape, voxel size, arrays, meta, ...)
    updated TEXT NOT NULL
  );
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    signature TEXT NOT NULL,
    summary TEXT NOT NULL,
    updated TEXT NOT NULL
  );
  CREATE TABLE models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    signature TEXT NOT NULL,
    info TEXT NOT NULL,
    updated TEXT NOT NULL
  );
  CREATE TABLE result_tables (
    id INTEGER PRIMARY KEY,
    dataset TEXT NOT NULL,
    name TEXT NOT NULL,
    array_path TEXT,               -- the label array the rows describe (segment look-up), when known
    columns TEXT NOT NULL,         -- JSON array of column names
    row_count INTEGER NOT NULL,
    csv_path TEXT,                 -- relative to the catalogue's directory
    csv_signature TEXT,            -- size:mtime of the CSV when it was read
    updated TEXT NOT NULL,
    UNIQUE (dataset, name)
  );
  CREATE TABLE result_rows (
    table_id INTEGER NOT NULL REFERENCES result_tables(id) ON DELETE CASCADE,
    row_index INTEGER NOT NULL,
    object_id INTEGER,             -- the first column when it is an integer (instance id)
    cells TEXT NOT NULL,           -- JSON array, one value per column
    PRIMARY KEY (table_id, row_index)
  );
  CREATE INDEX result_rows_object ON result_rows (table_id, object_id);
  CREATE TABLE views (
    dataset TEXT NOT NULL,
    name TEXT NOT NULL,
    view TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (dataset, name)
  );
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    verb TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT,
    log TEXT NOT NULL,
    exit_code INTEGER,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings `db` to SCHEMA_VERSION; returns the version it found. */
export function migrate(db: Database.Database, file: string): number {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = db.prepare("SELECT version FROM schema_version").get() as { version: number } | undefined;
  const found = row?.version ?? 0;
  if (found > SCHEMA_VERSION) {
    throw invalidData(
      `${file}: catalogue schema version ${found} is newer than this organelle knows (${SCHEMA_VERSION}); upgrade organelle or move the catalogue aside`,
    );
  }
  if (found === SCHEMA_VERSION) return found;
  const apply = db.transaction(() => {
    for (let v = found; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.exec("DELETE FROM schema_version");
    db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(SCHEMA_VERSION);
  });
  apply.immediate();
  return found;
}
