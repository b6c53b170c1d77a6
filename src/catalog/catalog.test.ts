import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isOrganelleError } from "../core/errors.ts";
import { CATALOG_FILE, Catalog } from "./catalog.ts";
import { parseCsv } from "./csv.ts";
import { SCHEMA_VERSION } from "./schema.ts";

let dir: string;
let cat: Catalog;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-catalog-"));
  cat = Catalog.forDir(dir);
});
afterEach(() => {
  cat.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("Catalog", () => {
  it("creates DIR/organelle-catalog.sqlite in WAL mode with the current schema version", () => {
    expect(cat.file).toBe(path.join(dir, CATALOG_FILE));
    const db = new Database(cat.file, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.prepare("SELECT version FROM schema_version").get()).toEqual({ version: SCHEMA_VERSION });
    db.close();
    // Re-opening migrates nothing and keeps the data.
    cat.upsertDataset("a.zarr", { x: 1 }, "sig");
    cat.close();
    cat = Catalog.forDir(dir);
    expect(cat.listDatasets().map((d) => [d.id, d.name, d.summary])).toEqual([["a.zarr", "a", { x: 1 }]]);
  });

  it("refuses a catalogue written by a newer schema", () => {
    cat.close();
    const db = new Database(path.join(dir, CATALOG_FILE));
    db.prepare("UPDATE schema_version SET version = ?").run(SCHEMA_VERSION + 1);
    db.close();
    let err: unknown;
    try {
      cat = Catalog.forDir(dir);
    } catch (e) {
      err = e;
    }
    expect(isOrganelleError(err, "InvalidData")).toBe(true);
    expect((err as Error).message).toMatch(/newer than this organelle knows/);
    fs.rmSync(path.join(dir, CATALOG_FILE));
    cat = Catalog.forDir(dir);
  });

  it("names datasets relative to its directory, from ids or absolute paths, and refuses outside paths", () => {
    expect(cat.datasetId(path.join(dir, "cells", "hela.zarr"))).toBe("cells/hela.zarr");
    expect(cat.datasetId("cells/hela.zarr/")).toBe("cells/hela.zarr");
    expect(() => cat.datasetId("/elsewhere/x.zarr")).toThrow(/not inside the catalogue's directory/);
    expect(() => cat.datasetId("../x.zarr")).toThrow(/not inside/);
  });

  it("records tables, replaces them atomically, lists, reads and finds rows by instance id", () => {
    const csvPath = path.join(dir, "cell.zarr", "tables", "mito.csv");
    fs.mkdirSync(path.dirname(csvPath), { recursive: true });
    fs.writeFileSync(csvPath, "Object ID,Volume (nm^3)\n3,10\n7,20\n");
    const s = cat.recordTable({
      dataset: path.join(dir, "cell.zarr"),
      name: "mito",
      columns: ["Object ID", "Volume (nm^3)"],
      rows: [
        [3, 10],
        [7, 20],
      ],
      csvPath,
      array: "segmentations/mito",
    });
    expect(s).toMatchObject({
      dataset: "cell.zarr",
      name: "mito",
      rows: 2,
      csvPath: "cell.zarr/tables/mito.csv",
    });
    expect(cat.getTable("cell.zarr", "mito")).toEqual({
      columns: ["Object ID", "Volume (nm^3)"],
      rows: [
        [3, 10],
        [7, 20],
      ],
    });
    expect(cat.findRow("cell.zarr", "mito", 7)).toEqual({ "Object ID": 7, "Volume (nm^3)": 20 });
    expect(cat.findRow("cell.zarr", "mito", 8)).toBeUndefined();
    expect(cat.tableForArray("cell.zarr", "segmentations/mito")?.name).toBe("mito");
    // A table not recorded for the array is found by the array's last path component.
    cat.recordTable({ dataset: "cell.zarr", name: "er", columns: ["Object ID"], rows: [[1]] });
    expect(cat.tableForArray("cell.zarr", "labels/er")?.name).toBe("er");
    // Replacing keeps one table with the new rows only.
    cat.recordTable({ dataset: "cell.zarr", name: "mito", columns: ["Object ID", "v"], rows: [[9, 1]] });
    expect(cat.listTables("cell.zarr").map((t) => [t.name, t.rows])).toEqual([
      ["er", 1],
      ["mito", 1],
    ]);
    expect(cat.findRow("cell.zarr", "mito", 3)).toBeUndefined();
    expect(cat.listTables().length).toBe(2);
    expect(() =>
      cat.recordTable({ dataset: "cell.zarr", name: "x", columns: ["a", "b"], rows: [[1]] }),
    ).toThrow(/row 1 has 1 values for 2 columns/);
    expect(() => cat.recordTable({ dataset: "cell.zarr", name: "../x", columns: [], rows: [] })).toThrow(
      /table name/,
    );
    // Removing the dataset removes its tables (and their rows, by cascade).
    cat.removeDataset("cell.zarr");
    expect(cat.listTables()).toEqual([]);
  });

  it("saves views per dataset (one per name) and records jobs", () => {
    cat.saveView("a.zarr", { name: "overview", position: [1, 2, 3], scale: 4, layers: [] });
    cat.saveView("a.zarr", { name: "overview", position: [5, 6, 7], scale: 4, layers: [] });
    cat.saveView("b.zarr", { name: "other", position: [0, 0, 0], scale: 1, layers: [] });
    expect(cat.listViews("a.zarr")).toEqual([
      { name: "overview", position: [5, 6, 7], scale: 4, layers: [] },
    ]);
    expect(() => cat.saveView("a.zarr", { name: " " })).toThrow(/non-empty name/);

    const j = cat.createJob("j1", "measure", ["a.zarr", "labels/mito"]);
    expect(j).toMatchObject({
      id: "j1",
      state: "queued",
      progress: null,
      exitCode: null,
      args: ["a.zarr", "labels/mito"],
    });
    cat.updateJob("j1", {
      state: "running",
      started: "2024-01-01T00:00:00.000Z",
      progress: { done: 1, total: 4 },
    });
    expect(cat.getJob("j1")).toMatchObject({ state: "running", progress: { done: 1, total: 4 } });
    cat.createJob("j2", "mesh", []);
    expect(cat.failUnfinishedJobs("server stopped")).toBe(2);
    expect(cat.listJobs().map((x) => x.state)).toEqual(["failed", "failed"]);
    cat.updateJob("j1", { state: "done", exitCode: 0, log: "ok" });
    expect(cat.getJob("j1")).toMatchObject({ state: "done", exitCode: 0, log: "ok" });
  });

  it("lets a second connection read while the first writes (WAL)", () => {
    const other = Catalog.forDir(dir);
    cat.recordTable({ dataset: "a.zarr", name: "t", columns: ["Object ID"], rows: [[1], [2]] });
    expect(other.getTable("a.zarr", "t")?.rows.length).toBe(2);
    other.close();
  });
});

describe("parseCsv", () => {
  it("reads numbers, empty fields as null, quoted fields with commas, quotes and newlines", () => {
    const t = parseCsv('id,name,v\r\n1,"a, ""b""",2.5e3\n2,,-.5\n3,"x\ny",NaN\n', "t.csv");
    expect(t.columns).toEqual(["id", "name", "v"]);
    expect(t.rows).toEqual([
      [1, 'a, "b"', 2500],
      [2, null, -0.5],
      [3, "x\ny", null],
    ]);
    expect(() => parseCsv('a\n"x', "bad.csv")).toThrow(/bad.csv: a quoted field is not closed/);
    expect(() => parseCsv("a\n1,2\n", "bad.csv")).toThrow(/line 2 has 2 fields for 1 columns/);
  });
});
